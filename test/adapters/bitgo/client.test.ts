import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBitgoCustodyClient, type BitgoCustodyClient } from '../../../src/adapters/bitgo/client.js';
import { BitgoSimulator, randomV2AccessToken } from '../../../src/adapters/bitgo/simulator/index.js';

const token = randomV2AccessToken();
let sim: BitgoSimulator;
let client: BitgoCustodyClient;
const w1 = { coin: 'tbtc', walletId: 'w1' };
const limits = { requestTimeoutMs: 400, retry: { attemptsMax: 3, baseDelayMs: 10, maxDelayMs: 40 }, responseMaxSkewMs: 60_000 };

beforeAll(async () => {
  sim = await BitgoSimulator.start({
    accessToken: token,
    wallets: [
      { coin: 'tbtc', id: 'w1', balance: 150_000_000n, confirmed: 100_000_000n, spendable: 90_000_000n },
      { coin: 'hteth', id: 'w3', balance: '1234567890123456789012' },
    ],
  });
  client = await createBitgoCustodyClient({ rootUri: sim.url, accessToken: token, ...limits });
});

afterAll(async () => {
  await sim?.stop();
});

/** A raw request to the simulator, to check what it accepts without the SDK. */
function raw(path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${sim.url}${path}`, { headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the BitGo adapter (real SDK) against the simulator', () => {
  it('reads the three balance strings, in base and ledger units', async () => {
    const result = await client.readWallet(w1);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.reading).toMatchObject({ coin: 'tbtc', walletId: 'w1', balanceBase: 150_000_000n, confirmedBase: 100_000_000n, spendableBase: 90_000_000n });
    expect(result.reading.balanceMinor).toBe(1_500_000_000_000_000_000n);
    const eth = await client.readWallet({ coin: 'hteth', walletId: 'w3' });
    expect(eth.ok && eth.reading.balanceMinor).toBe(1_234_567_890_123_456_789_012n);
  });

  it('sees a drift at the next read', async () => {
    sim.drift('w1', 5_000n);
    const result = await client.readWallet(w1);
    expect(result.ok && result.reading.balanceBase).toBe(150_005_000n);
    sim.drift('w1', -5_000n);
  });

  it('rejects a response whose HMAC does not match (the SDK verifies it): never a balance', async () => {
    sim.corruptHmacNext(1);
    const result = await client.readWallet(w1);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_hmac', status: 511 }, attempts: 1 });
  });

  it('refuses a correctly signed response dated too far from now (a replay): never a balance', async () => {
    sim.replayStaleNext(1, 10 * 60_000);
    expect(await client.readWallet(w1)).toMatchObject({ ok: false, error: { code: 'stale_response', status: 200 }, attempts: 1 });
    expect((await client.readWallet(w1)).ok).toBe(true);
  });

  it('retries 429 and 5xx, then succeeds', async () => {
    sim.failNext(2, 429);
    expect(await client.readWallet(w1)).toMatchObject({ ok: true, attempts: 3 });
    sim.failNext(1, 502);
    expect(await client.readWallet(w1)).toMatchObject({ ok: true, attempts: 2 });
  });

  it('gives up after the attempts: rate limited, server error', async () => {
    sim.failNext(3, 429);
    expect(await client.readWallet(w1)).toMatchObject({ ok: false, error: { code: 'rate_limited', status: 429 }, attempts: 3 });
    sim.failNext(3, 503);
    expect(await client.readWallet(w1)).toMatchObject({ ok: false, error: { code: 'server_error', status: 503 }, attempts: 3 });
  });

  it('times out a request that hangs, without waiting for the SDK\'s 305 s', async () => {
    sim.hangNext(1);
    const started = Date.now();
    expect(await client.readWallet(w1)).toMatchObject({ ok: false, error: { code: 'timeout' } });
    expect(Date.now() - started).toBeLessThan(2_000);
    sim.releaseHung();
    expect((await client.readWallet(w1)).ok).toBe(true);
  });

  it('adds latency below the timeout without failing', async () => {
    sim.setLatencyMs(150);
    expect((await client.readWallet(w1)).ok).toBe(true);
    sim.setLatencyMs(0);
  });

  it('reports an unknown wallet and a wrong token', async () => {
    expect(await client.readWallet({ coin: 'tbtc', walletId: 'nope' })).toMatchObject({ ok: false, error: { code: 'not_found', status: 404 } });
    const stranger = await createBitgoCustodyClient({ rootUri: sim.url, accessToken: randomV2AccessToken(), ...limits });
    expect(await stranger.readWallet(w1)).toMatchObject({ ok: false, error: { code: 'unauthorized', status: 401 } });
  });

  it('refuses a token the SDK would not sign with v2', async () => {
    await expect(createBitgoCustodyClient({ rootUri: sim.url, accessToken: 'plain-token', ...limits })).rejects.toThrow(/not a v2 token/);
  });
});

describe('the simulator\'s authentication', () => {
  it('answers 401 without a bearer token, or with the token hash and a bad request HMAC', async () => {
    expect((await raw('/api/v2/tbtc/wallet/w1', {})).status).toBe(401);
    const { tokenHashHex } = await import('../../../src/adapters/bitgo/hmac.js');
    const signedBadly = await raw('/api/v2/tbtc/wallet/w1', { Authorization: `Bearer ${tokenHashHex(token)}`, 'Auth-Timestamp': String(Date.now()), HMAC: 'f'.repeat(64) });
    expect(signedBadly.status).toBe(401);
  });

  it('accepts the token in clear (v1 style) and signs every response', async () => {
    const res = await raw('/api/v2/tbtc/wallet/w1', { Authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(res.headers.hmac).toMatch(/^[0-9a-f]{64}$/);
    expect(res.headers.timestamp).toMatch(/^\d+$/);
  });
});

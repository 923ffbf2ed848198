import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { nanos, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minorToDecimal } from '../../src/config/decimal.js';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { startDbChainReconciler, type DbChainReconciler } from '../../src/recon/db-chain/index.js';
import { startPoolOnAnvil, token, until, type PoolOnAnvil } from '../adapters/chain/pool-on-anvil.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { removeTopology } from '../../src/nats/topology.js';

const confirmations = 3;
const graceMs = 1_000;
let chain: PoolOnAnvil;
let database: TestDatabase;
let pool: Pool;
let nc: NatsConnection;
let jsm: JetStreamManager;
let names: NatsNames;
let settings: Settings;
let recon: DbChainReconciler;
const alerts: BreakAlert[] = [];
const resolved: BreakAlert[] = [];
const subscriptions: Subscription[] = [];

const account = (i: number): string => chain.accounts[i] ?? '';
const start = () => startDbChainReconciler({ nc, js: jetstream(nc), jsm, pool, names, log: silentLogger(), settings });

/** What the platform's staking service does once it has seen a stake: the user's position in whole tokens. */
async function setPosition(userId: string, address: string, amountBase: bigint): Promise<void> {
  await pool.query(
    `INSERT INTO staking_positions (user_id, address, amount, updated_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (user_id, address) DO UPDATE SET amount = EXCLUDED.amount, updated_at = now()`,
    [userId, address, minorToDecimal(amountBase, 18)],
  );
}

async function stake(userId: string, i: number, amountBase: bigint, fn: 'stake' | 'unstake' = 'stake') {
  const receipt = await chain.send({ from: account(i), fn, amountBase });
  await setPosition(userId, account(i), await chain.stakedOf(account(i)));
  return receipt;
}

const watermark = (name: string) => recon.status().watermarks?.[name];

/** Confirms everything on chain, waits for a comparison at the new confirmed block with equal totals, then for silence. */
async function settle(): Promise<void> {
  await chain.mine(confirmations);
  const confirmed = (await chain.head()) - confirmations;
  const expected = (await chain.totalStaked()).toString();
  await until('a comparison at the confirmed head with equal totals', () =>
    Number(watermark('comparedBlock')) >= confirmed && watermark('totalStakedBase') === expected && watermark('positionsTotalBase') === expected);
  await new Promise((r) => setTimeout(r, graceMs * 1.5));
}

beforeAll(async () => {
  [chain, database] = await Promise.all([startPoolOnAnvil(), createTestDatabase()]);
  await chain.mine(confirmations); // the pool itself confirmed before the reconciler looks
  pool = createPool(database.url, 4);
  nc = await connect({ servers: sharedNatsUrl() });
  jsm = await jetstreamManager(nc);
  const namespace = testNamespace();
  names = natsNames(namespace);
  await jsm.streams.add({ name: names.reconStream, subjects: [names.reconSubjectAll], duplicate_window: nanos(60_000) });
  for (const [subject, into] of [[names.reconAlertSubject('db_chain'), alerts], [names.reconResolvedSubject('db_chain'), resolved]] as const) {
    subscriptions.push(nc.subscribe(subject, { callback: (_e, msg) => void into.push(msg.json<BreakAlert>()) }));
  }
  await nc.flush();
  settings = loadSettings({}, {
    NAMESPACE: namespace, LOG_LEVEL: 'silent', ETH_RPC_URL: chain.anvil.url, STAKING_POOL_ADDRESS: chain.address,
    CHAIN_POLL_MS: '100', CHAIN_CONFIRMATIONS: String(confirmations), RECON_GRACE_MS: String(graceMs),
  });
  recon = await start();
});

afterAll(async () => {
  for (const sub of subscriptions) sub.unsubscribe();
  await recon?.stop();
  await chain?.stop();
  if (nc) await removeTopology(nc, names);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

describe('db_chain on a real anvil', () => {
  it('stays clean while accounts stake and unstake and the positions follow', async () => {
    await stake('u1', 1, 10n * token);
    await stake('u2', 2, 25n * token);
    await stake('u3', 3, 1n); // one base unit: 0.000000000000000001 token
    await stake('u1', 1, 5n * token);
    await stake('u2', 2, 20n * token, 'unstake');
    await chain.mine(2);
    await stake('u4', 4, 123_456_789_000_000_000n);
    await settle();
    expect(alerts).toEqual([]);
    expect(recon.status()).toMatchObject({ name: 'db_chain', enabled: true, openBreaks: 0 });
    expect(recon.status().lastDeltaAt).not.toBeNull();
    for (const i of [1, 2, 3, 4]) expect(recon.stakerNet(account(i))).toBe(await chain.stakedOf(account(i)));
    expect(watermark('totalStakedBase')).toBe((15n * token + 5n * token + 1n + 123_456_789_000_000_000n).toString());
  });

  it('a position with no matching chain event raises exactly one alert, resolved when fixed', async () => {
    await pool.query("INSERT INTO staking_positions (user_id, address, amount) VALUES ('ghost', $1, '2.5')", [account(9)]);
    const alert = await until('the alert', () => alerts[0]);
    await new Promise((r) => setTimeout(r, graceMs * 1.5)); // not re-paged
    expect(alerts).toHaveLength(1);
    expect(alert).toMatchObject({ boundary: 'db_chain', kind: 'position', userId: 'ghost', currency: 'STAKE', left: '2.5', right: '0', delta: '2.5' });
    expect(recon.status().openBreaks).toBe(1);
    const rows = await pool.query("SELECT break_key, status FROM recon_breaks WHERE boundary = 'db_chain'");
    expect(rows.rows).toEqual([{ break_key: account(9), status: 'open' }]);

    await pool.query("DELETE FROM staking_positions WHERE user_id = 'ghost'");
    await until('resolved', () => resolved.length === 1);
    expect(resolved[0]?.breakId).toBe(alert.breakId);
    expect(recon.status().openBreaks).toBe(0);
  });

  it('a reorg shallower than the confirmations changes nothing confirmed and raises nothing', async () => {
    const before = alerts.length;
    // Credited at inclusion (before its confirmations), then the block is reorged away and
    // the same stake lands in the replacement block: in flight throughout, never a break.
    await stake('u5', 5, 5n * token);
    await chain.reorg(2, [{ from: account(5), fn: 'stake', amountBase: 5n * token, offset: 1 }]);
    await settle();
    expect(alerts.length).toBe(before);
    expect(recon.status().counters?.rewinds).toBe(0);
    expect(recon.stakerNet(account(5))).toBe(5n * token);
  });

  it('a reorg deeper than the confirmations rewinds, recomputes the totals, and raises nothing', async () => {
    const before = alerts.length;
    const staked = await stake('u6', 6, 6n * token);
    await chain.mine(confirmations);
    await until('the stake confirmed and compared', () => Number(watermark('comparedBlock')) >= staked.blockNumber);
    expect(recon.stakerNet(account(6))).toBe(6n * token);
    // The last 5 blocks are replaced: u6's stake re-lands a block earlier (confirmed), and u7
    // stakes in the new head (pending), credited by the staking service at once.
    await chain.reorg(5, [{ from: account(6), fn: 'stake', amountBase: 6n * token, offset: 0 }, { from: account(7), fn: 'stake', amountBase: 7n * token, offset: 4 }]);
    await setPosition('u7', account(7), 7n * token);
    await until('the rewind', () => recon.status().counters?.rewinds === 1);
    await settle();
    expect(alerts.length).toBe(before);
    expect(recon.status().counters?.deltasDropped).toBeGreaterThanOrEqual(1);
    for (const i of [1, 2, 3, 4, 5, 6, 7]) expect(recon.stakerNet(account(i))).toBe(await chain.stakedOf(account(i)));
    const compared = Number(watermark('comparedBlock'));
    expect(watermark('comparedHash')).toBe(await chain.blockHash(compared));
  });

  it('seals the consistent cut once per business date: block number and hash, totals, digest, breaks', async () => {
    const seal = await recon.seal('2024-11-28');
    const total = await chain.totalStaked();
    expect(seal.cut).toMatchObject({
      stale: false, confirmations, poolAddress: chain.address.toLowerCase(), chainId: '31337', attributable: true,
      totalStakedBase: total.toString(), positionsTotalBase: total.toString(), totalStaked: minorToDecimal(total, 18),
    });
    expect(seal.cut.blockNumber).toBe((await chain.head()) - confirmations);
    expect(seal.cut.blockHash).toBe(await chain.blockHash(seal.cut.blockNumber));
    expect(seal.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(seal.openBreaks).toEqual([]);
    const again = await recon.seal('2024-11-28');
    expect(again).toEqual(seal);
    const stored = await pool.query<{ cut: { blockNumber: number; blockHash: string } }>("SELECT cut FROM recon_seals WHERE boundary = 'db_chain' AND business_date = '2024-11-28'");
    expect(stored.rows[0]?.cut).toMatchObject({ blockNumber: seal.cut.blockNumber, blockHash: seal.cut.blockHash });
  });

  it('resumes from its checkpoint after a restart, without re-reading history', async () => {
    const processedBefore = Number(watermark('processedBlock'));
    const digestBefore = (await recon.seal('2024-11-29')).digest;
    await recon.stop();
    recon = await start();
    await until('the first comparison', () => watermark('comparedBlock') !== undefined);
    expect(Number(watermark('processedBlock'))).toBeGreaterThanOrEqual(processedBefore);
    expect(recon.status().counters?.rangesRead).toBeLessThanOrEqual(1);
    expect((await recon.seal('2024-11-30')).digest).toBe(digestBefore);
    await stake('u8', 8, 8n * token);
    await settle();
    expect(recon.stakerNet(account(8))).toBe(8n * token);
    expect(alerts.filter((a) => a.kind !== 'position')).toEqual([]);
  });

  it('more stakers on chain than addressesMax is a reconciler_error naming the limit, not a comparison', async () => {
    await recon.stop();
    const before = alerts.length;
    recon = await startDbChainReconciler({ nc, js: jetstream(nc), jsm, pool, names, log: silentLogger(), settings, limits: { addressesMax: 2 } });
    const alert = await until('the limit alert', () => alerts.slice(before).find((a) => a.kind === 'reconciler_error'), 15_000);
    expect(alert.detail).toMatch(/stakers on chain, more than 2 \(limit addressesMax/);
    await recon.stop();
    recon = await start();
    await until('the limit alert resolved', () => resolved.find((r) => r.breakId === alert.breakId), 15_000);
    expect(alerts.slice(before).filter((a) => a.kind !== 'reconciler_error')).toEqual([]);
  });

  it('an unreachable node raises one unreachable alert and never a balance break', async () => {
    const before = alerts.length;
    await pool.query("UPDATE staking_positions SET amount = amount + 1 WHERE user_id = 'u1'"); // would be a break if judged
    await chain.stop();
    const alert = await until('the unreachable alert', () => alerts.slice(before).find((a) => a.kind === 'unreachable'), 15_000);
    await new Promise((r) => setTimeout(r, graceMs * 1.5));
    expect(alerts.slice(before)).toEqual([alert]);
    expect(alert).toMatchObject({ boundary: 'db_chain', kind: 'unreachable' });
    expect(recon.status().reason).toMatch(/^chain unreachable since/);
  });
});

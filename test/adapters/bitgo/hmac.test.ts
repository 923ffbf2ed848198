import type { BitGoAPI } from '@bitgo/sdk-api';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { baseUnitsToLedgerMinor, coinDecimals } from '../../../src/adapters/bitgo/coin-decimals.js';
import { hmacSha256Hex, isV2AccessToken, pathWithQueryOf, requestHmacSubject, responseHmacSubject, tokenHashHex } from '../../../src/adapters/bitgo/hmac.js';
import { randomV2AccessToken } from '../../../src/adapters/bitgo/simulator/index.js';
import { parseWalletResponse } from '../../../src/adapters/bitgo/wallet-response.js';

const token = randomV2AccessToken();
let bitgo: BitGoAPI;

beforeAll(async () => {
  const { BitGoAPI: Api } = await import('@bitgo/sdk-api');
  bitgo = new Api({ env: 'custom', customRootURI: 'http://127.0.0.1:1', accessToken: token, clientConstants: {} });
});

describe('the v2 HMAC scheme, held against the SDK', () => {
  const url = 'http://127.0.0.1:1/api/v2/tbtc/wallet/w1';

  it('signs a response exactly as the SDK verifies it', () => {
    const timestamp = Date.now();
    const body = '{"id":"w1","balanceString":"1"}';
    const subject = responseHmacSubject({ timestamp, pathWithQuery: pathWithQueryOf('/api/v2/tbtc/wallet/w1'), status: 200, body });
    expect(subject).toBe(bitgo.calculateHMACSubject({ urlPath: url, text: body, timestamp, statusCode: 200, method: 'get', authVersion: 2 }));
    const hmac = hmacSha256Hex(token, subject);
    const verdict = bitgo.verifyResponse({ url, hmac, statusCode: 200, text: body, timestamp, token, method: 'get', authVersion: 2 });
    expect(verdict.isValid).toBe(true);
    expect(verdict.expectedHmac).toBe(hmac);
    // One changed byte in the body, or another status, or another key: rejected.
    expect(bitgo.verifyResponse({ url, hmac, statusCode: 200, text: `${body} `, timestamp, token, method: 'get', authVersion: 2 }).isValid).toBe(false);
    expect(bitgo.verifyResponse({ url, hmac, statusCode: 201, text: body, timestamp, token, method: 'get', authVersion: 2 }).isValid).toBe(false);
    expect(bitgo.verifyResponse({ url, hmac, statusCode: 200, text: body, timestamp, token: randomV2AccessToken(), method: 'get', authVersion: 2 }).isValid).toBe(false);
  });

  it('verifies a request the way the SDK signs it (token hash, timestamp|path|body)', () => {
    const headers = bitgo.calculateRequestHeaders({ url: `${url}?allTokens=true`, text: '', token, method: 'get', authVersion: 2 });
    expect(headers.tokenHash).toBe(tokenHashHex(token));
    expect(headers.hmac).toBe(hmacSha256Hex(token, requestHmacSubject({ timestamp: headers.timestamp, pathWithQuery: pathWithQueryOf('/api/v2/tbtc/wallet/w1?allTokens=true'), body: '' })));
  });

  it('uses the bare path when the query is empty, as url.parse does', () => {
    expect(pathWithQueryOf('/api/v2/tbtc/wallet/w1?')).toBe('/api/v2/tbtc/wallet/w1');
    expect(pathWithQueryOf('/a?b=1')).toBe('/a?b=1');
    expect(bitgo.calculateHMACSubject({ urlPath: 'http://h/a?', text: '', timestamp: 1, method: 'get', authVersion: 2 })).toBe('1|/a|');
  });

  it('knows which tokens the SDK signs with v2', () => {
    expect(isV2AccessToken(token)).toBe(true);
    expect(token).toHaveLength(67);
    expect(isV2AccessToken('a'.repeat(40))).toBe(false);
  });

  it('builds wallet URLs under the custom root', () => {
    expect(bitgo.url('/tbtc/wallet/w1', 2)).toBe('http://127.0.0.1:1/api/v2/tbtc/wallet/w1');
  });
});

describe('coin decimals', () => {
  it('match @bitgo/statics for every coin in the table', () => {
    const require = createRequire(import.meta.url);
    const { coins } = require('@bitgo/statics') as { coins: { get(name: string): { decimalPlaces: number } } };
    for (const [coin, decimals] of Object.entries(coinDecimals)) expect({ coin, decimals: coins.get(coin).decimalPlaces }).toEqual({ coin, decimals });
  });

  it('convert base units to 18-decimal minor units exactly', () => {
    expect(baseUnitsToLedgerMinor(1n, 'tbtc')).toBe(10_000_000_000n);
    expect(baseUnitsToLedgerMinor(123_456_789_012_345_678_901n, 'hteth')).toBe(123_456_789_012_345_678_901n);
    expect(baseUnitsToLedgerMinor(1n, 'xrp')).toBe(1_000_000_000_000n);
    expect(() => baseUnitsToLedgerMinor(1n, 'nosuchcoin')).toThrow(/unknown BitGo coin/);
  });
});

describe('wallet response', () => {
  const wallet = { id: 'w1', coin: 'hteth', balance: 1.2345678901234568e21, balanceString: '1234567890123456789012', confirmedBalanceString: '1234567890123456789000', spendableBalanceString: '1000' };

  it('reads the strings, never the imprecise numbers', () => {
    const parsed = parseWalletResponse(wallet, { coin: 'hteth', walletId: 'w1' }, 0);
    expect(parsed.ok && parsed.reading.balanceMinor).toBe(1_234_567_890_123_456_789_012n);
    expect(parsed.ok && parsed.reading.confirmedMinor).toBe(1_234_567_890_123_456_789_000n);
  });

  it('rejects a body without the strings, with a float, or for another wallet', () => {
    expect(parseWalletResponse({ ...wallet, balanceString: undefined }, { coin: 'hteth', walletId: 'w1' }, 0).ok).toBe(false);
    expect(parseWalletResponse({ ...wallet, balanceString: '1.5' }, { coin: 'hteth', walletId: 'w1' }, 0).ok).toBe(false);
    expect(parseWalletResponse({ ...wallet, balanceString: 5 }, { coin: 'hteth', walletId: 'w1' }, 0).ok).toBe(false);
    expect(parseWalletResponse(wallet, { coin: 'hteth', walletId: 'w2' }, 0).ok).toBe(false);
    expect(parseWalletResponse({ ...wallet, balanceString: '-1' }, { coin: 'hteth', walletId: 'w1' }, 0).ok).toBe(false);
  });
});

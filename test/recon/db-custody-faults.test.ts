import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roundsPass, sat, sleep, startCustodyHarness, until, wei, type CustodyHarness } from './db-custody-harness.js';

let h: CustodyHarness;

beforeAll(async () => {
  h = await startCustodyHarness({
    wallets: [
      { coin: 'tbtc', id: 'w1', balance: sat(1) },
      { coin: 'tbtc', id: 'w2', balance: sat(0.5) },
      { coin: 'hteth', id: 'w3', balance: wei('10') },
    ],
    walletMap: 'BTC=tbtc:w1,BTC=tbtc:w2,ETH=hteth:w3',
    tolerances: 'BTC=0.001,ETH=0.01',
    before: async ({ deposit }) => {
      await deposit('u1', 'BTC', '1.5');
      await deposit('u1', 'ETH', '10');
    },
  });
  await roundsPass(h.pool, 2);
});

afterAll(async () => {
  await h?.close();
});

/** Injects an outage, checks it is one `unreachable` alert and no balance break, heals, checks the resolution. */
async function outage(inject: () => Promise<void> | void, heal: () => Promise<void> | void, expected: { key: string; detail: RegExp }) {
  const alertsBefore = h.alerts.length;
  await inject();
  const alert = await until('an unreachable alert', () => h.alerts.slice(alertsBefore).find((a) => a.kind === 'unreachable'));
  const requestsBefore = h.sim.requests.total;
  await sleep(600); // several rounds while it persists
  // Backed off: without it, 6 rounds × 3 wallets × 2 attempts would be ~36 requests.
  expect(h.sim.requests.total - requestsBefore).toBeLessThan(20);
  expect(h.reconciler.status().counters?.consecutiveFailedPolls).toBeGreaterThan(1);
  const raised = h.alerts.slice(alertsBefore);
  expect(raised).toHaveLength(1);
  expect(alert).toMatchObject({ boundary: 'db_custody', kind: 'unreachable', left: null, right: null, delta: null });
  expect(alert.detail).toMatch(expected.detail);
  expect(h.reconciler.liveBreaks().find((b) => b.id === alert.breakId)?.key).toBe(expected.key);
  await heal();
  await until('the outage resolved', () => h.resolved.find((r) => r.breakId === alert.breakId));
  await roundsPass(h.pool, 3);
  expect(h.alerts.slice(alertsBefore).filter((a) => a.kind === 'balance')).toEqual([]);
  expect(h.reconciler.status().openBreaks).toBe(0);
}

describe('db_custody when BitGo cannot be read', () => {
  it('5xx: one unreachable alert, no balance break for a ledger change it cannot check, backs off, recovers', async () => {
    await outage(
      async () => {
        h.sim.failNext(Number.POSITIVE_INFINITY, 503);
        await h.deposit('u2', 'BTC', '0.3'); // custody unknown: must not become a balance break
      },
      () => {
        h.sim.drift('w1', sat(0.3)); // the deposit arrived meanwhile
        h.sim.heal();
      },
      { key: 'bitgo', detail: /^BitGo unreachable: .*server_error \(503\)/ },
    );
  });

  it('timeouts: a hanging BitGo is unreachable, not a balance', async () => {
    await outage(
      () => {
        h.sim.hangNext(Number.POSITIVE_INFINITY);
        h.sim.drift('w3', wei('3')); // would be a break if it were read
      },
      () => {
        h.sim.drift('w3', -wei('3'));
        h.sim.heal();
      },
      { key: 'bitgo', detail: /timeout/ },
    );
  });

  it('a response with a bad HMAC is rejected by the SDK: unreachable, never a balance', async () => {
    await outage(
      () => {
        h.sim.corruptHmacNext(Number.POSITIVE_INFINITY);
        h.sim.drift('w3', wei('3')); // the tampered body says so: it must not be believed
      },
      () => {
        h.sim.drift('w3', -wei('3'));
        h.sim.heal();
      },
      { key: 'bitgo', detail: /invalid_hmac \(511\)/ },
    );
  });

  it('one wallet gone: unreachable for that wallet, its asset unjudged, the others still reconciled', async () => {
    const balanceAlertsBefore = h.alerts.filter((a) => a.kind === 'balance').length;
    const w2 = h.sim.removeWallet('w2');
    h.sim.drift('w3', wei('1')); // ETH is still read: a real break
    const eth = await until('the ETH break', () => h.alerts.find((a) => a.kind === 'balance' && a.currency === 'ETH'));
    const gone = await until('w2 unreachable', () => h.alerts.find((a) => a.kind === 'unreachable' && a.detail?.startsWith('wallet unreadable: tbtc:w2')));
    expect(h.reconciler.liveBreaks().find((b) => b.id === gone.breakId)?.key).toBe('tbtc:w2');
    expect(gone.detail).toMatch(/not_found \(404\)/);
    expect(h.alerts.filter((a) => a.kind === 'balance' && a.currency === 'BTC')).toEqual([]);
    expect(h.alerts.filter((a) => a.kind === 'balance')).toHaveLength(balanceAlertsBefore + 1);

    h.sim.setWallet({ coin: w2.coin, id: w2.id, balance: w2.balance });
    h.sim.drift('w3', -wei('1'));
    await until('both resolved', () => [eth, gone].every((a) => h.resolved.some((r) => r.breakId === a.breakId)));
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roundsPass, sat, startCustodyHarness, until, wei, type CustodyHarness } from './db-custody-harness.js';

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
    // Written before the start: the reconciler seeds these with one aggregate.
    before: async ({ deposit }) => {
      await deposit('u1', 'BTC', '1.2');
      await deposit('u2', 'BTC', '0.3');
      await deposit('u1', 'ETH', '10');
    },
  });
});

afterAll(async () => {
  await h?.close();
});

describe('db_custody: ledger against BitGo', () => {
  it('agrees when the wallets hold what the ledger says, and journals every check', async () => {
    await roundsPass(h.pool, 3);
    expect(h.alerts).toEqual([]);
    const status = h.reconciler.status();
    expect(status).toMatchObject({ name: 'db_custody', enabled: true, openBreaks: 0 });
    expect(status.lastDeltaAt).not.toBeNull();
    expect(status.watermarks?.custodyPolledAt).not.toBe('');
    const check = await h.pool.query("SELECT keys_compared, keys_equal FROM recon_checks WHERE boundary = 'db_custody' ORDER BY id DESC LIMIT 1");
    expect(check.rows[0]).toEqual({ keys_compared: 2, keys_equal: 2 });
  });

  it('follows new ledger rows (deposits credited after the start)', async () => {
    await h.deposit('u3', 'BTC', '0.25');
    h.sim.drift('w2', sat(0.25));
    await roundsPass(h.pool, 6);
    expect(h.alerts).toEqual([]);
    const held = await h.pool.query("SELECT held::text FROM recon_db_custody_ledger_totals WHERE currency = 'BTC'");
    expect(held.rows[0]?.held).toBe('1.750000000000000000');
  });

  it('is exact while a long transaction holds the ledger follower\'s horizon back', async () => {
    const alertsBefore = h.alerts.length;
    const blocker = await h.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT pg_current_xact_id()'); // an xid: xmin stays at it while open
      await h.deposit('u5', 'BTC', '0.05');
      h.sim.drift('w1', sat(0.05));
      await roundsPass(h.pool, 6);
      expect(h.alerts.slice(alertsBefore)).toEqual([]);
      expect(h.reconciler.status().counters?.ledgerTailRows).toBeGreaterThan(0); // counted from the tail
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    // u5 withdraws it again, so the later figures stay as they were.
    await h.journal('withdrawal', 'u5-out', [['u5', 'BTC', '-0.05'], ['house:custody', 'BTC', '0.05']]);
    h.sim.drift('w1', -sat(0.05));
  });

  it('raises nothing for a drift within the tolerance', async () => {
    h.sim.drift('w1', sat(0.0005)); // BTC tolerance is 0.001
    await roundsPass(h.pool, 6); // > grace (400 ms) at ≥ 100 ms a round
    expect(h.alerts).toEqual([]);
    h.sim.drift('w1', -sat(0.0005));
  });

  it('raises exactly one alert for a drift beyond the tolerance, pauses withdrawals, resumes on recovery', async () => {
    h.sim.drift('w2', -sat(0.01)); // custody short 0.01 BTC: 10× the tolerance
    const alert = await until('a BTC balance alert', () => h.alerts.find((a) => a.kind === 'balance' && a.currency === 'BTC'));
    await roundsPass(h.pool, 6);
    expect(h.alerts).toHaveLength(1); // not once a round
    expect(alert).toMatchObject({ boundary: 'db_custody', kind: 'balance', currency: 'BTC', left: '1.75', right: '1.74', delta: '0.01' });
    expect(alert.detail).toMatch(/^unexplained: custody is short by 0\.01 BTC/);

    const paused = h.withdrawals.filter((w) => w.action === 'paused');
    expect(paused).toEqual([{ subject: h.names.custodyWithdrawalsPausedSubject('BTC'), asset: 'BTC', action: 'paused', breakId: alert.breakId, delta: '0.01' }].map((p) => expect.objectContaining(p)));
    expect(h.reconciler.status()).toMatchObject({ openBreaks: 1, watermarks: expect.objectContaining({ withdrawalsPaused: 'BTC' }) });
    expect(h.reconciler.liveBreaks().map((b) => ({ kind: b.kind, key: b.key }))).toEqual([{ kind: 'balance', key: 'BTC' }]);
    const row = await h.pool.query("SELECT kind, break_key, currency, delta::text, status FROM recon_breaks WHERE boundary = 'db_custody'");
    expect(row.rows).toEqual([{ kind: 'balance', break_key: 'BTC', currency: 'BTC', delta: '0.010000000000000000', status: 'open' }]);

    h.sim.drift('w2', sat(0.01));
    await until('resolved', () => h.resolved.find((r) => r.breakId === alert.breakId));
    await until('resumed', () => h.withdrawals.find((w) => w.action === 'resumed' && w.breakId === alert.breakId));
    expect(h.withdrawals.filter((w) => w.action === 'resumed')).toHaveLength(1);
    expect(h.reconciler.status()).toMatchObject({ openBreaks: 0, watermarks: expect.objectContaining({ withdrawalsPaused: '' }) });
    // On the stream once each (Nats-Msg-Id): the pause and the resume.
    const stream = await h.jsm.streams.info(h.names.custodyStream);
    expect(stream.state.messages).toBe(2);
  });

  it('raises nothing while funds in flight explain the difference', async () => {
    const alertsBefore = h.alerts.length;
    // A deposit confirming on chain: BitGo shows it, the ledger has not credited it yet.
    await h.pool.query("INSERT INTO custody_in_flight (currency, direction, amount, reference, wallet_id) VALUES ('BTC', 'deposit', 0.2, 'dep-1', 'w1')");
    h.sim.receiveUnconfirmed('w1', sat(0.2));
    // A withdrawal debited and sent, not yet confirmed: the ledger already has it, the wallet not yet.
    await h.pool.query("INSERT INTO custody_in_flight (currency, direction, amount, reference, wallet_id) VALUES ('ETH', 'withdrawal', 1.5, 'wd-1', 'w3')");
    await h.journal('withdrawal', 'wd-1', [['u1', 'ETH', '-1.5'], ['house:custody', 'ETH', '1.5']]);
    await roundsPass(h.pool, 6);
    expect(h.alerts.slice(alertsBefore)).toEqual([]);
    const inFlight = await h.pool.query("SELECT max(keys_in_flight)::int AS n FROM recon_checks WHERE boundary = 'db_custody'");
    expect(inFlight.rows[0]?.n).toBe(2);

    // The deposit is credited (its row settles by itself) and the withdrawal confirms.
    await h.deposit('u4', 'BTC', '0.2', 'dep-1');
    h.sim.setBalance('w1', { balance: sat(1.2) });
    h.sim.drift('w3', -wei('1.5'));
    await h.pool.query("UPDATE custody_in_flight SET status = 'settled', updated_at = now() WHERE reference = 'wd-1'");
    await roundsPass(h.pool, 6);
    expect(h.alerts.slice(alertsBefore)).toEqual([]);
  });

  it('widens the tolerance by the hot-wallet float', async () => {
    const alertsBefore = h.alerts.length;
    await h.pool.query("INSERT INTO custody_hot_wallet_floats (currency, amount, reason, updated_by) VALUES ('ETH', 0.5, 'gas float', 'treasury')");
    h.sim.drift('w3', wei('0.4'));
    await roundsPass(h.pool, 6);
    expect(h.alerts.slice(alertsBefore)).toEqual([]);
    h.sim.drift('w3', -wei('0.4'));
    await h.pool.query("DELETE FROM custody_hot_wallet_floats");
  });

  it('seals a consistent cut once per business date', async () => {
    const seal = await h.reconciler.seal('2026-11-24');
    expect(seal.boundary).toBe('db_custody');
    expect(seal.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(seal.cut.wallets.map((w) => [w.walletId, w.balance, w.fresh])).toEqual([
      ['w1', sat(1.2).toString(), true], ['w2', sat(0.75).toString(), true], ['w3', wei('8.5').toString(), true],
    ]);
    expect(seal.cut.currencies).toEqual([
      expect.objectContaining({ currency: 'BTC', ledgerHeld: '1.95', custody: '1.95', state: 'agree' }),
      expect.objectContaining({ currency: 'ETH', ledgerHeld: '8.5', custody: '8.5', state: 'agree' }),
    ]);
    expect(seal.cut.custodyPolledAt).not.toBeNull();
    expect(BigInt(seal.cut.ledger.id)).toBeGreaterThan(0n);
    expect(seal.openBreaks).toEqual([]);
    const stored = await h.pool.query("SELECT digest, cut FROM recon_seals WHERE boundary = 'db_custody' AND business_date = '2026-11-24'");
    expect(stored.rows[0]?.digest).toBe(seal.digest);
    // A second seal of the same date returns the first.
    h.sim.drift('w1', 1n);
    const again = await h.reconciler.seal('2026-11-24');
    expect(again.digest).toBe(seal.digest);
    expect(again.sealedAt).toBe(seal.sealedAt);
    h.sim.drift('w1', -1n);
  });
});

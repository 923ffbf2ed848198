import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roundsPass, startCustodyHarness, until, wei, type CustodyHarness } from './db-custody-harness.js';

let h: CustodyHarness;

beforeAll(async () => {
  h = await startCustodyHarness({
    wallets: [{ coin: 'hteth', id: 'w3', balance: wei('10') }],
    walletMap: 'ETH=hteth:w3',
    tolerances: 'ETH=0.01',
    before: async ({ deposit }) => deposit('u1', 'ETH', '10'),
  });
});

afterAll(async () => {
  await h?.close();
});

/** Waits for the next ETH balance alert, then for its resolution after `fix`. */
async function breakThenFix(fix: () => Promise<void>) {
  const before = h.alerts.length;
  const alert = await until('an ETH balance alert', () => h.alerts.slice(before).find((a) => a.kind === 'balance' && a.currency === 'ETH'));
  await until('withdrawals paused', () => h.withdrawals.find((w) => w.action === 'paused' && w.breakId === alert.breakId));
  await fix();
  await until('resolved', () => h.resolved.find((r) => r.breakId === alert.breakId));
  await until('withdrawals resumed', () => h.withdrawals.find((w) => w.action === 'resumed' && w.breakId === alert.breakId));
  expect(h.alerts.slice(before)).toHaveLength(1);
  return alert;
}

describe('db_custody classifies breaks whose cause is known', () => {
  it('gas paid from the hot wallet, not yet booked', async () => {
    await h.pool.query("INSERT INTO custody_in_flight (currency, direction, amount, reference, wallet_id) VALUES ('ETH', 'gas_fee', 0.05, '0xgas1', 'w3')");
    h.sim.drift('w3', -wei('0.05'));
    const alert = await breakThenFix(async () => {
      // The ledger books the fee: the exchange's expense, custody's counterpart.
      await h.journal('gas_fee', '0xgas1', [['house:custody', 'ETH', '0.05'], ['house:gas_fees', 'ETH', '-0.05']]);
    });
    expect(alert).toMatchObject({ kind: 'balance', currency: 'ETH', left: '10', right: '9.95', delta: '0.05' });
    expect(alert.detail).toMatch(/^gas_fees: custody is short by 0\.05 ETH .* covered by 0\.05 gas paid from the hot wallet/);
  });

  it('a deposit confirming at BitGo that nobody registered as in flight', async () => {
    h.sim.receiveUnconfirmed('w3', wei('1'));
    const alert = await breakThenFix(async () => {
      await h.deposit('u2', 'ETH', '1');
      h.sim.setBalance('w3', { balance: wei('10.95') });
    });
    expect(alert).toMatchObject({ delta: '-1' });
    expect(alert.detail).toMatch(/^pending_confirmations: custody is over by 1 ETH/);
  });

  it('rewards received, not yet distributed', async () => {
    await h.pool.query("INSERT INTO custody_in_flight (currency, direction, amount, reference, wallet_id) VALUES ('ETH', 'reward', 0.3, 'epoch-7', 'w3')");
    h.sim.drift('w3', wei('0.3'));
    const alert = await breakThenFix(async () => {
      await h.journal('staking_reward', 'epoch-7', [['u1', 'ETH', '0.2'], ['u2', 'ETH', '0.1'], ['house:custody', 'ETH', '-0.3']]);
    });
    expect(alert.detail).toMatch(/^undistributed_rewards: custody is over by 0\.3 ETH/);
  });

  it('a loss no known cause covers stays unexplained', async () => {
    await h.pool.query("INSERT INTO custody_in_flight (currency, direction, amount, reference, wallet_id) VALUES ('ETH', 'gas_fee', 0.01, '0xgas2', 'w3')");
    h.sim.drift('w3', -wei('2'));
    const alert = await breakThenFix(async () => {
      h.sim.drift('w3', wei('1.99'));
      await h.journal('gas_fee', '0xgas2', [['house:custody', 'ETH', '0.01'], ['house:gas_fees', 'ETH', '-0.01']]);
    });
    expect(alert.detail).toMatch(/^unexplained: .*known causes \(gas_fees 0\.01\) do not cover it/);
  });
});

describe('db_custody across a restart', () => {
  it('resumes from its checkpoint and does not page a live break again', async () => {
    const before = h.alerts.length;
    h.sim.drift('w3', -wei('5'));
    const alert = await until('an ETH balance alert', () => h.alerts.slice(before).find((a) => a.kind === 'balance'));
    let saved = { tx: '0', id: '0', rowsRead: 0n };
    await h.restart(async () => {
      const mark = await h.pool.query<{ right_tx: string; right_id: string; rows_read: string }>(
        "SELECT right_tx::text, right_id::text, rows_read::text FROM recon_watermarks WHERE boundary = 'db_custody'");
      saved = { tx: mark.rows[0]!.right_tx, id: mark.rows[0]!.right_id, rowsRead: BigInt(mark.rows[0]!.rows_read) };
      await h.deposit('u3', 'ETH', '1');
      h.sim.drift('w3', wei('1'));
    });
    // Exactly the rows past the saved watermark are read after the restart: no rescan from the
    // start. (Usually the two written while stopped; more when another test file held the
    // server's read horizon back before the stop.)
    const pastMark = await h.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger_entries WHERE (tx_id, id) > ($1::text::xid8, $2::bigint)', [saved.tx, saved.id]);
    const expectedRows = pastMark.rows[0]!.n;
    expect(expectedRows).toBeGreaterThanOrEqual(2);
    await until('the rows past the watermark', () => (h.reconciler.status().counters?.ledgerRowsReadSinceStart ?? 0) >= expectedRows);
    await roundsPass(h.pool, 3);
    expect(h.alerts.slice(before)).toHaveLength(1);
    expect(h.reconciler.liveBreaks().map((b) => b.id)).toEqual([alert.breakId]);
    expect(h.reconciler.status().counters?.ledgerRowsReadSinceStart).toBe(expectedRows);
    const rowsAfter = await h.pool.query<{ rows_read: string }>("SELECT rows_read::text FROM recon_watermarks WHERE boundary = 'db_custody'");
    expect(BigInt(rowsAfter.rows[0]!.rows_read) - saved.rowsRead).toBe(BigInt(expectedRows));
    // The pause was carried out before the restart (its outbox row is done): not sent again.
    const paused = await h.jsm.streams.info(h.names.custodyStream, { subjects_filter: h.names.custodyWithdrawalsPausedSubject('ETH') });
    const pausedCount = h.withdrawals.filter((w) => w.action === 'paused').length;
    expect(paused.state.subjects?.[h.names.custodyWithdrawalsPausedSubject('ETH')]).toBe(pausedCount);
    expect(h.withdrawals.filter((w) => w.action === 'paused' && w.breakId === alert.breakId)).toHaveLength(1);

    h.sim.drift('w3', wei('5'));
    await until('resolved after the restart', () => h.resolved.find((r) => r.breakId === alert.breakId));
  });
});

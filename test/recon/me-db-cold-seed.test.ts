import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExchangeSimulator } from '../../src/adapters/exchange-simulator/index.js';
import type { Pool } from '../../src/db/pool.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { insertTransactionAcrossPowerOfTen } from '../support/ledger-ids.js';
import { until } from '../support/until.js';
import { MeDbSimHarness } from './me-db-sim-harness.js';

let h: MeDbSimHarness;
let pool: Pool;
let sim: ExchangeSimulator;
let alerts: BreakAlert[];

async function savedPositionCount(): Promise<number> {
  return Number((await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM recon_me_db_positions')).rows[0]?.n);
}

/** A row a seed that crashed before its first checkpoint could have left: no checkpoint vouches for it. */
async function leaveStrayPosition(): Promise<void> {
  await pool.query("INSERT INTO recon_me_db_positions (user_id, currency, engine_total, engine_seq, ledger_total) VALUES ('stray', 'BTC', 1, 1, 1)");
}

async function forgetCheckpoint(): Promise<void> {
  await pool.query("DELETE FROM recon_watermarks WHERE boundary = 'me_db'");
  await pool.query('DELETE FROM recon_me_db_positions');
  await pool.query('DELETE FROM recon_ledger_currency_totals');
}

beforeAll(async () => {
  h = await MeDbSimHarness.open();
  ({ pool, alerts } = h);
  // A backlog the reconciler has never seen.
  sim = await h.startSimulator({ seed: 23, rateEventsPerSec: 3_000, users: 200, currencies: ['BTC', 'ETH', 'USDT'] });
  // On both sides: under load the ledger's writer can run well behind the engine's events.
  await until('a backlog', async () => sim.lastSeq() >= 8_000 && (await h.ledgerRowCount()) >= 12_000, 90_000);
}, 180_000);

afterAll(async () => {
  await h?.close();
});

describe('me_db cold start: seeding both sides at their watermarks', () => {
  it('seeds while the exchange runs (rows committing, events publishing), follows from there, no false break, the full scan\'s state', { timeout: 120_000 }, async () => {
    const eventsBefore = sim.lastSeq();
    const rowsBefore = await h.ledgerRowCount();
    const reconciler = await h.startReconciler();
    try {
      const atStart = reconciler.status();
      // Both sides were taken in as sets: history was not replayed event by event or row by row
      // (rows of transactions still open at the seed's horizon are left to the follower).
      expect(atStart.counters?.ledgerRowsSeeded).toBeGreaterThan(rowsBefore / 2);
      expect(atStart.watermarks?.engineSeq).toBeGreaterThanOrEqual(eventsBefore);
      await new Promise((r) => setTimeout(r, 3_000));
      await sim.pause();
      const lastSeq = sim.lastSeq();
      await h.untilCaughtUp(reconciler, lastSeq);
      const status = reconciler.status();
      // Every row once: summed by the seed or read after it.
      expect((status.counters?.ledgerRowsSeeded ?? 0) + (status.counters?.ledgerRowsReadSinceStart ?? 0)).toBe(await h.ledgerRowCount());
      expect(status.counters?.engineEventsApplied).toBeLessThanOrEqual(lastSeq - Number(atStart.watermarks?.engineSeq ?? 0));
      expect(status.counters?.engineEventsApplied).toBeGreaterThan(0);
      expect(status.counters?.ledgerRowsRead).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 2_500)); // past the grace window: a false difference would have paged
      expect(alerts).toEqual([]);
      expect(reconciler.status().openBreaks).toBe(0);
    } finally {
      await reconciler.stop(); // a failure here must not leave it running under the next tests
    }
    await h.expectSavedStateEqualsFullScan();
  });

  it('a restart after the seed resumes from its checkpoint: no second seed, exactly the rows past the watermark', { timeout: 120_000 }, async () => {
    const mark = (await pool.query<{ right_tx: string; right_id: string }>("SELECT right_tx::text, right_id::text FROM recon_watermarks WHERE boundary = 'me_db'")).rows[0];
    expect(mark).toBeDefined();
    sim.resume();
    await new Promise((r) => setTimeout(r, 1_500));
    const reconciler = await h.startReconciler();
    await new Promise((r) => setTimeout(r, 1_500));
    await sim.pause();
    const lastSeq = sim.lastSeq();
    await h.untilCaughtUp(reconciler, lastSeq);
    const rowsPast = await h.ledgerRowsPast({ txId: mark?.right_tx ?? '0', id: mark?.right_id ?? '0' });
    const status = reconciler.status();
    expect(status.counters?.ledgerRowsSeeded).toBe(0);
    expect(status.counters?.ledgerRowsReadSinceStart).toBe(rowsPast);
    expect(rowsPast).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(alerts).toEqual([]);
    await reconciler.stop();
    await h.expectSavedStateEqualsFullScan();
  });

  it('a restart right after a cold seed, before the events ahead of the snapshot were read again: they are seen, not a sequence going back', { timeout: 120_000 }, async () => {
    await sim.pause();
    await forgetCheckpoint();
    // The consumer starts this many events before the first one past the snapshot: far more than a
    // reconciler stopped at once can have read again.
    const margin = 5_000;
    expect(sim.lastSeq()).toBeGreaterThan(2 * margin);
    const first = await h.startReconciler({ seedStreamMarginEvents: margin });
    await first.stop();
    // Its checkpoint counts every event the snapshot holds as accounted for (not only those read).
    const saved = (await pool.query<{ stream_seq: string | null }>("SELECT left_stream_seq::text AS stream_seq FROM recon_watermarks WHERE boundary = 'me_db'")).rows[0];
    const stream = await (await jetstreamManager(h.nc)).streams.info(h.names.meBalanceStream);
    expect(Number(saved?.stream_seq)).toBe(stream.state.last_seq);
    // The restart reads the margin again: every one of those events is a redelivery.
    const second = await h.startReconciler({ seedStreamMarginEvents: margin });
    sim.resume();
    await new Promise((r) => setTimeout(r, 1_000));
    await sim.pause();
    await h.untilCaughtUp(second, sim.lastSeq());
    await new Promise((r) => setTimeout(r, 1_500));
    expect(alerts).toEqual([]);
    expect(second.status().counters).toMatchObject({ engineEventsParked: 0 });
    expect(second.liveBreaks()).toEqual([]);
    await second.stop();
    await h.expectSavedStateEqualsFullScan();
  });

  it('over the position cap (ADR 0026): every seeded position saved, at most the cap held, evicted keys reloaded, the seal of every position', { timeout: 120_000 }, async () => {
    const cap = 100;
    const graceMs = 5_000;
    await forgetCheckpoint();
    await leaveStrayPosition();
    const known = sim.registry().length;
    expect(known).toBeGreaterThan(cap * 3);
    const reconciler = await h.startReconciler({ positionsInMemoryMax: cap, graceMs });
    // Paused, the sides agree: nothing must be held past the cap; everything is in Postgres already.
    expect(reconciler.status().counters).toMatchObject({ positionsKnown: known, positionsInMemory: cap });
    expect(await savedPositionCount()).toBe(known);
    // A burst on both sides touching most keys: batches load evicted positions back (over the cap
    // for less than a grace window: the working set, not a stuck book, so not paged).
    sim.resume();
    await new Promise((r) => setTimeout(r, 300));
    await sim.pause();
    await h.untilCaughtUp(reconciler, sim.lastSeq());
    // Quiet again: the next batches (the ledger's polls) checkpoint and evict down to the cap.
    await until('the book back within the cap', () => (reconciler.status().counters?.positionsInMemory ?? Infinity) <= cap, 15_000);
    await new Promise((r) => setTimeout(r, graceMs));
    expect(alerts).toEqual([]);
    const seal = await reconciler.seal('2026-02-01');
    expect(seal.cut.positions).toBe(sim.registry().length);
    expect(seal.digest).toBe(await h.fullScanDigest());
    await reconciler.stop();
    await h.expectSavedStateEqualsFullScan();
  });

  it('breaks still open from before a cold start: a seeded key that agrees now resolves, one that still differs stays open, unpaged again; agreeing keys are counted as compared', { timeout: 120_000 }, async () => {
    await forgetCheckpoint();
    alerts.length = 0;
    const resolved: BreakAlert[] = [];
    const sub = h.nc.subscribe(h.names.reconResolvedSubject('me_db'), { callback: (_e, msg) => void resolved.push(msg.json<BreakAlert>()) });
    const [healed, broken] = [sim.userIds[3] as string, sim.userIds[4] as string];
    const first = await h.startReconciler({ graceMs: 300 });
    sim.resume();
    const healedFault = sim.faults.engineOnlyChange({ userId: healed, currency: 'ETH', deltaMinor: 7n * 10n ** 15n });
    const brokenFault = sim.faults.engineOnlyChange({ userId: broken, currency: 'ETH', deltaMinor: 9n * 10n ** 15n });
    await until('both breaks paged', () => [healed, broken].every((u) => alerts.some((a) => a.userId === u && a.currency === 'ETH')), 20_000);
    await sim.pause();
    await first.stop();
    await sim.fix(healedFault.faultId);
    await forgetCheckpoint(); // the breaks stay in recon_breaks: a first start finds them open
    alerts.length = 0;
    const checksBefore = (await pool.query<{ id: string }>("SELECT coalesce(max(id), 0)::text AS id FROM recon_checks")).rows[0]?.id;
    const reconciler = await h.startReconciler({ graceMs: 300 });
    await until('the healed key resolved', () => resolved.some((a) => a.userId === healed && a.currency === 'ETH'), 10_000);
    await new Promise((r) => setTimeout(r, 1_000)); // past the grace window
    expect(reconciler.liveBreaks().map((b) => `${b.userId}/${b.currency}`)).toEqual([`${broken}/ETH`]);
    expect(alerts).toEqual([]); // the open one is not paged a second time
    await reconciler.stop();
    sub.unsubscribe();
    // The seed's comparison is journalled like any round: every position compared, all but the broken one equal.
    const known = sim.registry().length;
    const checks = await pool.query<{ compared: string; equal: string }>(
      "SELECT sum(keys_compared)::text AS compared, sum(keys_equal)::text AS equal FROM recon_checks WHERE boundary = 'me_db' AND id > $1", [checksBefore]);
    expect(Number(checks.rows[0]?.compared)).toBeGreaterThanOrEqual(known);
    expect(Number(checks.rows[0]?.equal)).toBeGreaterThanOrEqual(known - 1);
    await sim.fix(brokenFault.faultId); // the next tests start from agreeing sides
  });

  it('with no engine answering a snapshot it seeds the ledger and reads the balance stream from its start', { timeout: 120_000 }, async () => {
    await forgetCheckpoint();
    await leaveStrayPosition();
    await sim.stop(); // nobody serves me.snapshot now
    const lastSeq = sim.lastSeq();
    const reconciler = await h.startReconciler({ snapshotTimeoutMs: 300 });
    expect(reconciler.status().counters?.ledgerRowsSeeded).toBeGreaterThan(10_000);
    await h.untilCaughtUp(reconciler, lastSeq);
    // Every event of the stream applied: the engine side had no snapshot to start from.
    expect(reconciler.status().counters?.engineEventsApplied).toBe(lastSeq);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(alerts).toEqual([]);
    expect(reconciler.status().openBreaks).toBe(0);
    await reconciler.stop();
    await h.expectSavedStateEqualsFullScan();
  });

  it('a journal of the seeded history that does not sum to zero is a break, as if the follower had read it', { timeout: 60_000 }, async () => {
    await forgetCheckpoint();
    await pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
       VALUES ('lopsided', 'house:custody', 'ETH', 2, 'test', 'x'), ('lopsided', 'house:fees', 'ETH', -1.5, 'test', 'x')`);
    const txId = (await pool.query<{ tx_id: string }>("SELECT tx_id::text FROM ledger_entries WHERE journal_id = 'lopsided' LIMIT 1")).rows[0]?.tx_id;
    const reconciler = await h.startReconciler({ snapshotTimeoutMs: 300 });
    await until('the journal and currency breaks', () => alerts.length >= 2, 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    await reconciler.stop();
    expect(alerts.map((a) => ({ kind: a.kind, currency: a.currency, delta: a.delta })).sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
      { kind: 'currency_nonzero', currency: 'ETH', delta: expect.stringMatching(/^-?0\.5/) },
      { kind: 'journal_unbalanced', currency: 'ETH', delta: expect.stringMatching(/^-?0\.5/) },
    ]);
    const journalBreak = await pool.query<{ break_key: string }>("SELECT break_key FROM recon_breaks WHERE kind = 'journal_unbalanced'");
    expect(journalBreak.rows.map((r) => r.break_key)).toEqual([`${txId}:lopsided/ETH`]);
  });

  it('a seed whose last transaction\'s ids cross a power of ten (…9999 → …10000): every row once, no journal split, no currency break', { timeout: 60_000 }, async () => {
    await forgetCheckpoint();
    alerts.length = 0;
    // One transaction, ids power−4 … power+5: as text "…9999" sorted after "…10005" (the seed's watermark before the fix).
    await insertTransactionAcrossPowerOfTen(pool, { prefix: 'straddle', userId: 'ustraddle', currency: 'ETH' });
    const reconciler = await h.startReconciler({ snapshotTimeoutMs: 300 });
    const end = await h.ledgerEnd();
    await until('the ledger read to its end', () => {
      const w = reconciler.status().watermarks;
      return w?.ledgerTxId === end.txId && w.ledgerId === end.id;
    }, 30_000, { detail: () => JSON.stringify({ end, watermarks: reconciler.status().watermarks, counters: reconciler.status().counters }) });
    await new Promise((r) => setTimeout(r, 1_500)); // past the grace window and the seeded journals' check
    const status = reconciler.status();
    await reconciler.stop();
    expect((status.counters?.ledgerRowsSeeded ?? 0) + (status.counters?.ledgerRowsReadSinceStart ?? 0)).toBe(await h.ledgerRowCount());
    expect(alerts.filter((a) => a.kind === 'journal_unbalanced' || a.kind === 'currency_nonzero')).toEqual([]);
  });
});

import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExchangeSimulator, type ExchangeSimulator } from '../../src/adapters/exchange-simulator/index.js';
import { signedDecimalToMinor } from '../../src/config/decimal.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { ensureAccountTopology } from '../../src/nats/topology.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { CutDigest } from '../../src/recon/cut-digest.js';
import { defaultMeDbLimits, MeDbReconciler, type MeDbLimits } from '../../src/recon/me-db/reconciler.js';
import { leafValue } from '../../src/recon/me-db/seal-record.js';
import { createTestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';

let nc: NatsConnection;
let pool: Pool;
let names: NatsNames;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let sim: ExchangeSimulator;
let sub: Subscription;
const alerts: BreakAlert[] = [];

async function startReconciler(limits: Partial<MeDbLimits> = {}): Promise<MeDbReconciler> {
  const reconciler = new MeDbReconciler({
    nc, js: jetstream(nc), jsm: await jetstreamManager(nc), pool, names, log: silentLogger(),
    limits: { ...defaultMeDbLimits, graceMs: 1_000, ...limits },
  });
  await reconciler.start();
  return reconciler;
}

/** The last (tx_id, id) in the table: where a follower that has read everything stands. */
async function ledgerEnd(): Promise<{ txId: string; id: string }> {
  const r = await pool.query<{ tx_id: string; id: string }>('SELECT e.tx_id::text AS tx_id, e.id::text AS id FROM ledger_entries e ORDER BY e.tx_id DESC, e.id DESC LIMIT 1');
  return { txId: r.rows[0]?.tx_id ?? '0', id: r.rows[0]?.id ?? '0' };
}

async function ledgerRowCount(): Promise<number> {
  return Number((await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM ledger_entries')).rows[0]?.n);
}

async function untilCaughtUp(reconciler: MeDbReconciler, lastSeq: number): Promise<void> {
  const end = await ledgerEnd();
  await until('the reconciler at the end of both sides', () => {
    const w = reconciler.status().watermarks;
    return w?.engineSeq === lastSeq && w.ledgerTxId === end.txId && w.ledgerId === end.id;
  }, 30_000);
}

/**
 * The saved state against the full scan (Σ ledger per key, the engine's balances, Σ per
 * currency): exactly equal, key by key.
 */
async function expectSavedStateEqualsFullScan(): Promise<void> {
  const sums = await pool.query<{ user_id: string; currency: string; total: string }>(
    "SELECT user_id, currency, sum(amount)::text AS total FROM ledger_entries WHERE user_id NOT LIKE 'house:%' GROUP BY 1, 2");
  const ledger = new Map(sums.rows.map((r) => [`${r.user_id}/${r.currency}`, signedDecimalToMinor(r.total, 18)]));
  const engine = new Map(sim.registry().map((r) => [`${r.userId}/${r.currency}`, r.totalMinor]));
  const saved = await pool.query<{ user_id: string; currency: string; engine_total: string; ledger_total: string }>(
    'SELECT user_id, currency, engine_total::text, ledger_total::text FROM recon_me_db_positions');
  expect(saved.rows.length).toBe(engine.size);
  for (const p of saved.rows) {
    const key = `${p.user_id}/${p.currency}`;
    expect(signedDecimalToMinor(p.ledger_total, 18)).toBe(ledger.get(key) ?? 0n);
    expect(signedDecimalToMinor(p.engine_total, 18)).toBe(engine.get(key));
  }
  const currencies = await pool.query<{ currency: string; scan: string; saved: string }>(
    `SELECT c.currency, coalesce(s.total, 0)::text AS scan, c.total::text AS saved
       FROM recon_ledger_currency_totals c LEFT JOIN (SELECT currency, sum(amount) AS total FROM ledger_entries GROUP BY 1) s USING (currency)`);
  expect(currencies.rows.length).toBeGreaterThan(0);
  for (const c of currencies.rows) expect(signedDecimalToMinor(c.saved, 18)).toBe(signedDecimalToMinor(c.scan, 18));
}

/** The seal digest of every position at the full scan's totals (ADR 0009): what a book holding all of them seals. */
async function fullScanDigest(): Promise<string> {
  const sums = await pool.query<{ user_id: string; currency: string; total: string }>(
    "SELECT user_id, currency, sum(amount)::text AS total FROM ledger_entries WHERE user_id NOT LIKE 'house:%' GROUP BY 1, 2");
  const ledger = new Map(sums.rows.map((r) => [`${r.user_id}/${r.currency}`, signedDecimalToMinor(r.total, 18)]));
  const digest = new CutDigest();
  for (const r of sim.registry()) {
    const key = `${r.userId}/${r.currency}`;
    digest.replace(key, null, leafValue(r.totalMinor, ledger.get(key) ?? 0n));
  }
  return digest.hex();
}

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
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  pool = createPool(database.url, 8);
  await ensureAccountTopology(nc, names);
  sub = nc.subscribe(names.reconAlertSubject('me_db'), { callback: (_e, msg) => void alerts.push(msg.json<BreakAlert>()) });
  // A backlog the reconciler has never seen.
  sim = await startExchangeSimulator({ nc, pool, names, seed: 23, rateEventsPerSec: 3_000, users: 200, currencies: ['BTC', 'ETH', 'USDT'], log: silentLogger() });
  await until('a backlog', () => sim.lastSeq() >= 8_000, 90_000);
}, 180_000);

afterAll(async () => {
  sub?.unsubscribe();
  await sim?.stop();
  await deleteNamespaceStreams(nc, names);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

describe('me_db cold start: seeding both sides at their watermarks', () => {
  it('seeds while the exchange runs (rows committing, events publishing), follows from there, no false break, the full scan\'s state', { timeout: 120_000 }, async () => {
    const eventsBefore = sim.lastSeq();
    const reconciler = await startReconciler();
    const atStart = reconciler.status();
    // Both sides were taken in as sets: history was not replayed event by event or row by row.
    expect(atStart.counters?.ledgerRowsSeeded).toBeGreaterThan(10_000);
    expect(atStart.watermarks?.engineSeq).toBeGreaterThanOrEqual(eventsBefore);
    await new Promise((r) => setTimeout(r, 3_000));
    await sim.pause();
    const lastSeq = sim.lastSeq();
    await untilCaughtUp(reconciler, lastSeq);
    const status = reconciler.status();
    // Every row once: summed by the seed or read after it.
    expect((status.counters?.ledgerRowsSeeded ?? 0) + (status.counters?.ledgerRowsReadSinceStart ?? 0)).toBe(await ledgerRowCount());
    expect(status.counters?.engineEventsApplied).toBeLessThanOrEqual(lastSeq - Number(atStart.watermarks?.engineSeq ?? 0));
    expect(status.counters?.engineEventsApplied).toBeGreaterThan(0);
    expect(status.counters?.ledgerRowsRead).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 2_500)); // past the grace window: a false difference would have paged
    expect(alerts).toEqual([]);
    expect(reconciler.status().openBreaks).toBe(0);
    await reconciler.stop();
    await expectSavedStateEqualsFullScan();
  });

  it('a restart after the seed resumes from its checkpoint: no second seed, exactly the rows past the watermark', { timeout: 120_000 }, async () => {
    const mark = (await pool.query<{ right_tx: string; right_id: string }>("SELECT right_tx::text, right_id::text FROM recon_watermarks WHERE boundary = 'me_db'")).rows[0];
    expect(mark).toBeDefined();
    sim.resume();
    await new Promise((r) => setTimeout(r, 1_500));
    const reconciler = await startReconciler();
    await new Promise((r) => setTimeout(r, 1_500));
    await sim.pause();
    const lastSeq = sim.lastSeq();
    await untilCaughtUp(reconciler, lastSeq);
    const rowsPast = Number((await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM ledger_entries WHERE (tx_id, id) > ($1::text::xid8, $2::bigint)', [mark?.right_tx, mark?.right_id])).rows[0]?.n);
    const status = reconciler.status();
    expect(status.counters?.ledgerRowsSeeded).toBe(0);
    expect(status.counters?.ledgerRowsReadSinceStart).toBe(rowsPast);
    expect(rowsPast).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(alerts).toEqual([]);
    await reconciler.stop();
    await expectSavedStateEqualsFullScan();
  });

  it('over the position cap (ADR 0026): every seeded position saved, at most the cap held, evicted keys reloaded, the seal of every position', { timeout: 120_000 }, async () => {
    const cap = 100;
    const graceMs = 5_000;
    await forgetCheckpoint();
    await leaveStrayPosition();
    const known = sim.registry().length;
    expect(known).toBeGreaterThan(cap * 3);
    const reconciler = await startReconciler({ positionsInMemoryMax: cap, graceMs });
    // Paused, the sides agree: nothing must be held past the cap; everything is in Postgres already.
    expect(reconciler.status().counters).toMatchObject({ positionsKnown: known, positionsInMemory: cap });
    expect(await savedPositionCount()).toBe(known);
    // A burst on both sides touching most keys: batches load evicted positions back (over the cap
    // for less than a grace window: the working set, not a stuck book, so not paged).
    sim.resume();
    await new Promise((r) => setTimeout(r, 300));
    await sim.pause();
    await untilCaughtUp(reconciler, sim.lastSeq());
    // Quiet again: the next batches (the ledger's polls) checkpoint and evict down to the cap.
    await until('the book back within the cap', () => (reconciler.status().counters?.positionsInMemory ?? Infinity) <= cap, 15_000);
    await new Promise((r) => setTimeout(r, graceMs));
    expect(alerts).toEqual([]);
    const seal = await reconciler.seal('2026-02-01');
    expect(seal.cut.positions).toBe(sim.registry().length);
    expect(seal.digest).toBe(await fullScanDigest());
    await reconciler.stop();
    await expectSavedStateEqualsFullScan();
  });

  it('with no engine answering a snapshot it seeds the ledger and reads the balance stream from its start', { timeout: 120_000 }, async () => {
    await forgetCheckpoint();
    await leaveStrayPosition();
    await sim.stop(); // nobody serves me.snapshot now
    const lastSeq = sim.lastSeq();
    const reconciler = await startReconciler({ snapshotTimeoutMs: 300 });
    expect(reconciler.status().counters?.ledgerRowsSeeded).toBeGreaterThan(10_000);
    await untilCaughtUp(reconciler, lastSeq);
    // Every event of the stream applied: the engine side had no snapshot to start from.
    expect(reconciler.status().counters?.engineEventsApplied).toBe(lastSeq);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(alerts).toEqual([]);
    expect(reconciler.status().openBreaks).toBe(0);
    await reconciler.stop();
    await expectSavedStateEqualsFullScan();
  });

  it('a journal of the seeded history that does not sum to zero is a break, as if the follower had read it', { timeout: 60_000 }, async () => {
    await forgetCheckpoint();
    await pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
       VALUES ('lopsided', 'house:custody', 'ETH', 2, 'test', 'x'), ('lopsided', 'house:fees', 'ETH', -1.5, 'test', 'x')`);
    const txId = (await pool.query<{ tx_id: string }>("SELECT tx_id::text FROM ledger_entries WHERE journal_id = 'lopsided' LIMIT 1")).rows[0]?.tx_id;
    const reconciler = await startReconciler({ snapshotTimeoutMs: 300 });
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
    const maxId = BigInt((await pool.query<{ m: string }>('SELECT max(id)::text AS m FROM ledger_entries')).rows[0]?.m ?? '0');
    let power = 10n;
    while (power <= maxId + 5n) power *= 10n;
    await pool.query("SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), $1::bigint)", [(power - 5n).toString()]);
    // One transaction, ids power−4 … power+5: as text "…9999" sorted after "…10005" (the seed's watermark before the fix).
    await pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
       SELECT 'straddle-' || (g / 2), CASE WHEN g % 2 = 0 THEN 'ustraddle' ELSE 'house:custody' END, 'ETH', CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END, 'test', 'straddle'
         FROM generate_series(0, 9) g`);
    const reconciler = await startReconciler({ snapshotTimeoutMs: 300 });
    const end = await ledgerEnd();
    await until('the ledger read to its end', () => {
      const w = reconciler.status().watermarks;
      return w?.ledgerTxId === end.txId && w.ledgerId === end.id;
    }, 30_000, { detail: () => JSON.stringify({ end, watermarks: reconciler.status().watermarks, counters: reconciler.status().counters }) });
    await new Promise((r) => setTimeout(r, 1_500)); // past the grace window and the seeded journals' check
    const status = reconciler.status();
    await reconciler.stop();
    expect((status.counters?.ledgerRowsSeeded ?? 0) + (status.counters?.ledgerRowsReadSinceStart ?? 0)).toBe(await ledgerRowCount());
    expect(alerts.filter((a) => a.kind === 'journal_unbalanced' || a.kind === 'currency_nonzero')).toEqual([]);
  });
});

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

beforeAll(async () => {
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  pool = createPool(database.url, 8);
  await ensureAccountTopology(nc, names);
  sub = nc.subscribe(names.reconAlertSubject('me_db'), { callback: (_e, msg) => void alerts.push(msg.json<BreakAlert>()) });
}, 60_000);

afterAll(async () => {
  sub?.unsubscribe();
  await sim?.stop();
  await deleteNamespaceStreams(nc, names);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

/** The checkpoint the catch-up starts from: a reconciler that ran on the ledger as it is, and stopped. */
async function checkpointNow(limits: Partial<MeDbLimits> = {}): Promise<{ txId: string; id: string }> {
  const reconciler = await startReconciler(limits);
  await until('the reconciler at the end of the ledger', async () => {
    const end = await ledgerEnd();
    const w = reconciler.status().watermarks;
    return w?.ledgerTxId === end.txId && w.ledgerId === end.id;
  }, 30_000);
  await reconciler.stop();
  const mark = (await pool.query<{ right_tx: string; right_id: string }>("SELECT right_tx::text, right_id::text FROM recon_watermarks WHERE boundary = 'me_db'")).rows[0];
  return { txId: mark?.right_tx ?? '0', id: mark?.right_id ?? '0' };
}

/** The next ledger ids cross a power of ten (as text "…9999" sorts after "…10005"). */
async function idsAboutToCrossAPowerOfTen(): Promise<void> {
  const maxId = BigInt((await pool.query<{ m: string }>('SELECT coalesce(max(id), 0)::text AS m FROM ledger_entries')).rows[0]?.m ?? '0');
  let power = 10n;
  while (power <= maxId + 500n) power *= 10n;
  await pool.query("SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), $1::bigint)", [(power - 200n).toString()]);
}

describe('me_db catch-up from a checkpoint far behind: the ledger side taken in as sums', () => {
  it('sums the rows past the checkpoint while the exchange writes, follows from there: every row once, no false break, the full scan\'s state', { timeout: 150_000 }, async () => {
    sim = await startExchangeSimulator({ nc, pool, names, seed: 31, rateEventsPerSec: 2_000, users: 200, currencies: ['BTC', 'ETH', 'USDT'], log: silentLogger() });
    await until('some history', () => sim.lastSeq() >= 2_000, 60_000);
    await sim.pause();
    const checkpoint = await checkpointNow();
    // The backlog: the exchange runs while the reconciler is down, its ledger ids crossing a power of ten.
    await idsAboutToCrossAPowerOfTen();
    sim.resume();
    await until('a backlog', () => sim.lastSeq() >= 8_000, 90_000);
    // Still writing while the reconciler catches up: rows commit during the sums and after them.
    const reconciler = await startReconciler({ ledgerBatchRowsMax: 500 });
    await until('the ledger rows past the checkpoint taken in as sums', () => (reconciler.status().counters?.ledgerRowsSeeded ?? 0) > 0, 30_000);
    await new Promise((r) => setTimeout(r, 1_500));
    await sim.pause();
    const lastSeq = sim.lastSeq();
    await untilCaughtUp(reconciler, lastSeq);
    const status = reconciler.status();
    const rowsPast = Number((await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM ledger_entries e WHERE (e.tx_id, e.id) > ($1::text::xid8, $2::bigint)', [checkpoint.txId, checkpoint.id])).rows[0]?.n);
    // Every row past the checkpoint once: summed, or read after the sums.
    expect(status.counters?.ledgerRowsSeeded).toBeGreaterThan(1_000);
    expect((status.counters?.ledgerRowsSeeded ?? 0) + (status.counters?.ledgerRowsReadSinceStart ?? 0)).toBe(rowsPast);
    await new Promise((r) => setTimeout(r, 2_500)); // past the grace window: a false difference would have paged
    expect(alerts).toEqual([]);
    expect(reconciler.status().openBreaks).toBe(0);
    await reconciler.stop();
    await expectSavedStateEqualsFullScan();
  });

  it('the last transaction before the sums\' horizon has ids across a power of ten (…9999 → …10000): its rows counted once', { timeout: 120_000 }, async () => {
    const checkpoint = await checkpointNow();
    sim.resume();
    const from = sim.lastSeq();
    await until('a backlog', () => sim.lastSeq() >= from + 3_000, 90_000);
    await sim.pause();
    // The last transaction past the backlog: ids power−4 … power+5 (as text "…9999" sorts after "…10005"), house accounts only.
    const maxId = BigInt((await pool.query<{ m: string }>('SELECT coalesce(max(id), 0)::text AS m FROM ledger_entries')).rows[0]?.m ?? '0');
    let power = 10n;
    while (power <= maxId + 5n) power *= 10n;
    await pool.query("SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), $1::bigint)", [(power - 5n).toString()]);
    await pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
       SELECT 'straddle-' || (g / 2), CASE WHEN g % 2 = 0 THEN 'house:fees' ELSE 'house:custody' END, 'ETH', CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END, 'test', 'straddle'
         FROM generate_series(0, 9) g`);
    const lastSeq = sim.lastSeq();
    const reconciler = await startReconciler({ ledgerBatchRowsMax: 500 });
    await until('the ledger rows past the checkpoint taken in as sums', () => (reconciler.status().counters?.ledgerRowsSeeded ?? 0) > 0, 30_000);
    // The exchange writes again while the engine side catches up.
    sim.resume();
    await new Promise((r) => setTimeout(r, 1_000));
    await sim.pause();
    await untilCaughtUp(reconciler, sim.lastSeq());
    expect(sim.lastSeq()).toBeGreaterThan(lastSeq);
    const status = reconciler.status();
    const rowsPast = Number((await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM ledger_entries e WHERE (e.tx_id, e.id) > ($1::text::xid8, $2::bigint)', [checkpoint.txId, checkpoint.id])).rows[0]?.n);
    expect((status.counters?.ledgerRowsSeeded ?? 0) + (status.counters?.ledgerRowsReadSinceStart ?? 0)).toBe(rowsPast);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(alerts).toEqual([]);
    await reconciler.stop();
    await expectSavedStateEqualsFullScan();
  });

  it('over the position cap (ADR 0026): the sums of keys not held are applied to their saved positions, loaded first', { timeout: 150_000 }, async () => {
    const cap = 100;
    await checkpointNow({ positionsInMemoryMax: cap });
    sim.resume();
    const from = sim.lastSeq();
    await until('a backlog', () => sim.lastSeq() >= from + 6_000, 90_000);
    await sim.pause();
    const lastSeq = sim.lastSeq();
    const reconciler = await startReconciler({ ledgerBatchRowsMax: 500, positionsInMemoryMax: cap });
    await untilCaughtUp(reconciler, lastSeq);
    const status = reconciler.status();
    expect(status.counters?.ledgerRowsSeeded).toBeGreaterThan(1_000);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(alerts).toEqual([]);
    await reconciler.stop();
    await expectSavedStateEqualsFullScan();
  });
});

/**
 * Phase 1: catch-up throughput and the cold start. A backlog of engine events (in the balance
 * stream) and ledger rows (in ledger_entries) is made by the exchange simulator with no
 * reconciler running; then, on that same backlog:
 * - catch-up (the delta path): a reconciler whose checkpoint was saved just before the backlog
 *   began (it ran once on the empty exchange and stopped) is timed until both its watermarks
 *   reach the end: every event and every row applied one by one, checkpoints and engine history
 *   written as in production;
 * - cold start: the checkpoint is removed and a fresh reconciler, with the engine answering
 *   snapshots, is timed from start() until both watermarks are at the end (it seeds both sides as
 *   sets, ADR 0025, then follows). Three times, each after a full scan; the medians are compared.
 * Each must find the right answer: no alert, and its saved state equal to the full scan's.
 *
 * Compared, on the same backlog and in the same run, with:
 * - the I/O + parse ceiling: the same reads without the reconciliation (an ordered consumer
 *   that parses every event with the contract parser; readLedgerBatch from the start in the
 *   reconciler's batch size), one after the other;
 * - the baseline full scan (bench/baseline.ts) over the same ledger, with the engine snapshot.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { startExchangeSimulator } from '../src/adapters/exchange-simulator/index.js';
import { signedDecimalToMinor } from '../src/config/decimal.js';
import type { Pool } from '../src/db/pool.js';
import { ledgerStart, readLedgerBatch } from '../src/adapters/ledger/ledger-follower.js';
import { parseBalanceEvent, userIdOfBalanceSubject, type BalanceRow } from '../src/adapters/matching-engine/contract.js';
import { natsNames } from '../src/nats/names.js';
import { ensureAccountTopology } from '../src/nats/topology.js';
import type { Logger } from '../src/observability/logger.js';
import { defaultMeDbLimits, MeDbReconciler } from '../src/recon/me-db/reconciler.js';
import { startBenchChild } from './child.js';
import { startProfile } from './cpu-profile.js';
import { fullScanReconcile, type FullScanResult } from './baseline.js';
import { countRows } from './history.js';
import { engineStateRowOf } from './engine-state.js';
import { benchNamespace, createBenchDatabase, deleteNamespaceStreams, median, once, sleep, timed, until, type Cleanup } from './support.js';

export interface ThroughputOptions {
  backlogEvents: number;
  users: number;
  currencies: readonly string[];
  graceMs: number;
  /** When set, a V8 CPU profile of this process during the catch-up is written there. */
  profilePath?: string;
  /** … and of the cold start. */
  coldProfilePath?: string;
}

/** One timed reconciler run over the backlog. */
export interface ReconcilerRun {
  /** start() until both watermarks are at the end of the backlog. */
  totalMs: number;
  startMs: number;
  engineDoneMs: number;
  ledgerDoneMs: number;
  /** Rows applied one by one, and rows taken in as sums by a seed. */
  ledgerRowsRead: number;
  ledgerRowsSeeded: number;
  engineEventsApplied: number;
  alerts: number;
  openBreaksAfter: number;
  /** Keys (and currencies) whose saved state differs from the full scan: must be 0. */
  stateDifferences: number;
}

export interface ThroughputResult {
  events: number;
  ledgerRows: number;
  generateMs: number;
  /** The delta path: from a checkpoint saved just before the backlog. */
  catchUp: ReconcilerRun;
  /** No checkpoint, the engine answering snapshots: the median by time of `coldStarts`. */
  coldStart: ReconcilerRun;
  /** Every cold start, in order, each after a full scan (they alternate). */
  coldStarts: ReconcilerRun[];
  ceilingEngineMs: number;
  ceilingLedgerMs: number;
  /** The median by time of `baselines`. */
  baseline: FullScanResult;
  /** Every full scan, in order: the first before the catch-up, each later one just before a cold start. */
  baselines: FullScanResult[];
  graceMs: number;
}

/** Cold starts (and full scans beside them), so one slow run on a shared box does not make the figure. */
const coldStartRuns = 3;

/** The run whose time is the median (support.ts `median`) of the runs' times. */
const medianByTime = <T extends { totalMs: number }>(runs: readonly T[]): T => {
  const middle = median(runs.map((r) => r.totalMs));
  return runs.find((r) => r.totalMs === middle) as T;
};

const isServing = (m: unknown): m is { serving: true } => (m as { serving?: unknown } | null)?.serving === true;

type Ctx = { serverUrl: string; natsUrl: string; nc: NatsConnection; log: Logger; cleanup: Cleanup; say: (line: string) => void };

export async function runThroughput(ctx: Ctx, opts: ThroughputOptions): Promise<ThroughputResult> {
  const { nc, log, cleanup, say } = ctx;
  const db = await createBenchDatabase(ctx.serverUrl, 'tp', log);
  cleanup.add(`drop ${db.name}`, () => db.drop());
  const names = natsNames(benchNamespace());
  cleanup.add(`streams of ${names.namespace}`, () => deleteNamespaceStreams(nc, names));
  await ensureAccountTopology(nc, names);
  const pool = db.pool;
  const jsm = await jetstreamManager(nc);
  const newReconciler = (): MeDbReconciler => new MeDbReconciler({
    nc, js: jetstream(nc), jsm, pool, names, log,
    limits: { ...defaultMeDbLimits, graceMs: opts.graceMs, snapshotTimeoutMs: 2_000 },
  });

  // The checkpoint the catch-up starts from: a reconciler that ran on the empty exchange and stopped.
  const first = newReconciler();
  await first.start();
  await first.stop();

  say(`throughput: generating a backlog of ≥ ${opts.backlogEvents} engine events with the simulator (no reconciler running)`);
  const sim = await startExchangeSimulator({
    nc, pool, names, seed: 1, rateEventsPerSec: 100_000, users: opts.users, currencies: opts.currencies, log, resumeFromLedger: false,
  });
  cleanup.add('throughput simulator', () => sim.stop());
  const generated = await timed(async () => {
    await until('the backlog', () => sim.lastSeq() >= opts.backlogEvents, Math.max(120_000, opts.backlogEvents), 20);
    await sim.pause();
  });
  const events = (await jsm.streams.info(names.meBalanceStream)).state.messages;
  const ledgerRows = await countRows(pool);
  // The engine as of the backlog's end (taken in one synchronous stretch, as its snapshot() is),
  // then served from a process of its own, as the matching engine is at an exchange: serving a
  // snapshot is charged neither to the reconciler's thread nor to the full scan's.
  const engineState = { asOfSeq: sim.lastSeq(), rows: sim.registry() };
  await sim.stop();
  const snapshots = await startBenchChild('bench/snapshot-child.ts', { NATS_URL: ctx.natsUrl, NAMESPACE: names.namespace });
  cleanup.add('throughput snapshot service', () => snapshots.stop());
  await snapshots.ask({ state: { asOfSeq: engineState.asOfSeq, rows: engineState.rows.map(engineStateRowOf) } }, isServing);
  say(`throughput: backlog ${events} events + ${ledgerRows} ledger rows in ${(generated.ms / 1000).toFixed(1)} s; baseline full scan`);

  // The baseline over the same ledger, with the same engine snapshot.
  const baseline = await fullScanReconcile(pool, nc, names);
  if (baseline.mismatches.length > 0 || baseline.currenciesNonZero.length > 0) {
    throw new Error(`throughput: the backlog does not reconcile (${baseline.mismatches.length} mismatches): the simulator or the baseline is wrong`);
  }

  say('throughput: I/O + parse ceiling');
  const ceilingEngine = await timed(async () => {
    const consumer = await jetstream(nc).consumers.get(names.meBalanceStream);
    const messages = await consumer.consume({ max_messages: 1_000 });
    let n = 0;
    for await (const msg of messages) {
      const parsed = parseBalanceEvent(msg.data, { subjectUserId: userIdOfBalanceSubject(msg.subject) });
      if (!parsed.ok) throw new Error(`ceiling: unparsable event ${msg.seq}`);
      if (++n >= events) break;
    }
    await messages.close();
    return n;
  });
  const ceilingLedger = await timed(async () => {
    let mark = ledgerStart;
    let n = 0;
    for (;;) {
      const batch = await readLedgerBatch(pool, mark, defaultMeDbLimits.ledgerBatchRowsMax);
      if (batch.rows.length === 0) return n;
      n += batch.rows.length;
      mark = batch.next;
    }
  });
  if (ceilingLedger.value !== ledgerRows) throw new Error(`ceiling: read ${ceilingLedger.value} ledger rows, expected ${ledgerRows}`);

  const lastSeq = engineState.asOfSeq;
  const ledgerEnd = await lastLedgerPosition(pool);
  const timedRun = async (label: string, profilePath?: string): Promise<ReconcilerRun> => {
    let alerts = 0;
    const sub = nc.subscribe(names.reconAlertSubject('me_db'), { callback: () => void alerts++ });
    await nc.flush();
    const reconciler = newReconciler();
    const stopReconciler = once(() => reconciler.stop());
    cleanup.add(`throughput reconciler (${label})`, stopReconciler);
    const profiler = profilePath ? await startProfile() : null;
    const t0 = performance.now();
    await reconciler.start();
    const startMs = performance.now() - t0;
    let engineDoneMs = Number.NaN;
    let ledgerDoneMs = Number.NaN;
    await until(`the reconciler (${label}) to reach the end`, () => {
      const w = reconciler.status().watermarks;
      const now = performance.now() - t0;
      if (Number.isNaN(engineDoneMs) && Number(w?.engineSeq ?? 0) >= lastSeq) engineDoneMs = now;
      if (Number.isNaN(ledgerDoneMs) && w?.ledgerTxId === ledgerEnd.txId && w.ledgerId === ledgerEnd.id) ledgerDoneMs = now;
      return !Number.isNaN(engineDoneMs) && !Number.isNaN(ledgerDoneMs);
    }, 600_000, 5);
    const totalMs = Math.max(engineDoneMs, ledgerDoneMs, startMs);
    if (profiler && profilePath) {
      await profiler.stop(profilePath);
      say(`throughput: CPU profile of the ${label} written to ${profilePath} (open in Chrome DevTools › Performance)`);
    }
    // Whatever was raised while one side was behind must resolve now that both are at the end.
    await until('breaks raised while reconciling to resolve', () => reconciler.status().openBreaks === 0, 30_000, 50).catch(() => undefined);
    await sleep(300);
    const status = reconciler.status();
    sub.unsubscribe();
    await stopReconciler();
    const counters = status.counters ?? {};
    return {
      totalMs, startMs, engineDoneMs, ledgerDoneMs,
      ledgerRowsRead: counters.ledgerRowsReadSinceStart ?? 0, ledgerRowsSeeded: counters.ledgerRowsSeeded ?? 0, engineEventsApplied: counters.engineEventsApplied ?? 0,
      alerts, openBreaksAfter: status.openBreaks, stateDifferences: await savedStateDifferences(pool, engineState.rows),
    };
  };

  say(`throughput: the reconciler catches up from its checkpoint (grace ${opts.graceMs} ms)`);
  const catchUp = await timedRun('catch-up', opts.profilePath);
  // Cold starts alternate with full scans, each pair on the same backlog, the medians compared.
  const baselines = [baseline];
  const coldStarts: ReconcilerRun[] = [];
  for (let i = 0; i < coldStartRuns; i++) {
    if (i > 0) baselines.push(await fullScanReconcile(pool, nc, names));
    say(`throughput: cold start ${i + 1} of ${coldStartRuns} (no checkpoint, the engine answering snapshots)`);
    await forgetCheckpoint(pool);
    coldStarts.push(await timedRun(`cold start ${i + 1}`, i === 0 ? opts.coldProfilePath : undefined));
  }
  for (const [label, run] of [['catch-up', catchUp], ...coldStarts.map((r, i) => [`cold start ${i + 1}`, r] as const)] as const) {
    if (run.stateDifferences > 0) throw new Error(`throughput: the ${label} ended with ${run.stateDifferences} keys unlike the full scan`);
  }
  await snapshots.stop();
  // Leave nothing running or stored for the next phase.
  await deleteNamespaceStreams(nc, names);
  await db.drop();

  return {
    events, ledgerRows, generateMs: generated.ms, catchUp, coldStart: medianByTime(coldStarts), coldStarts,
    ceilingEngineMs: ceilingEngine.ms, ceilingLedgerMs: ceilingLedger.ms, baseline: medianByTime(baselines), baselines, graceMs: opts.graceMs,
  };
}

async function lastLedgerPosition(pool: Pool): Promise<{ txId: string; id: string }> {
  const r = await pool.query<{ tx_id: string; id: string }>('SELECT e.tx_id::text AS tx_id, e.id::text AS id FROM ledger_entries e ORDER BY e.tx_id DESC, e.id DESC LIMIT 1');
  return { txId: r.rows[0]?.tx_id ?? '0', id: r.rows[0]?.id ?? '0' };
}

async function forgetCheckpoint(pool: Pool): Promise<void> {
  await pool.query("DELETE FROM recon_watermarks WHERE boundary = 'me_db'");
  await pool.query('DELETE FROM recon_me_db_positions');
  await pool.query('DELETE FROM recon_ledger_currency_totals');
}

/** The reconciler's saved positions and currency totals against a full scan and the engine's balances (not timed). */
async function savedStateDifferences(pool: Pool, engineRows: readonly BalanceRow[]): Promise<number> {
  const sums = await pool.query<{ user_id: string; currency: string; total: string }>('SELECT user_id, currency, sum(amount)::text AS total FROM ledger_entries GROUP BY 1, 2');
  const ledger = new Map<string, bigint>();
  const currencies = new Map<string, bigint>();
  for (const r of sums.rows) {
    const minor = signedDecimalToMinor(r.total, 18);
    currencies.set(r.currency, (currencies.get(r.currency) ?? 0n) + minor);
    if (!r.user_id.startsWith('house:')) ledger.set(`${r.user_id}/${r.currency}`, minor);
  }
  const engine = new Map(engineRows.map((r) => [`${r.userId}/${r.currency}`, r.totalMinor]));
  const saved = await pool.query<{ user_id: string; currency: string; engine_total: string; ledger_total: string }>(
    'SELECT user_id, currency, engine_total::text, ledger_total::text FROM recon_me_db_positions');
  let differences = 0;
  const seen = new Set<string>();
  for (const p of saved.rows) {
    const key = `${p.user_id}/${p.currency}`;
    seen.add(key);
    if (signedDecimalToMinor(p.ledger_total, 18) !== (ledger.get(key) ?? 0n) || signedDecimalToMinor(p.engine_total, 18) !== (engine.get(key) ?? 0n)) differences++;
  }
  for (const [key, total] of [...ledger, ...engine]) if (!seen.has(key) && total !== 0n) differences++;
  const savedTotals = await pool.query<{ currency: string; total: string }>('SELECT currency, total::text FROM recon_ledger_currency_totals');
  const savedByCurrency = new Map(savedTotals.rows.map((r) => [r.currency, signedDecimalToMinor(r.total, 18)]));
  for (const [currency, total] of currencies) if (savedByCurrency.get(currency) !== total) differences++;
  return differences;
}

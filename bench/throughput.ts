/**
 * Phase 1: delta throughput. A backlog of engine events (in the balance stream) and ledger
 * rows (in ledger_entries) is made by the exchange simulator with no reconciler running; then
 * a fresh me_db reconciler starts and is timed until both its watermarks reach the end.
 *
 * Compared, on the same backlog and in the same run, with:
 * - the I/O + parse ceiling: the same reads without the reconciliation (an ordered consumer
 *   that parses every event with the contract parser; readLedgerBatch from the start in the
 *   reconciler's batch size), one after the other as the reconciler's single mailbox does;
 * - the baseline full scan (bench/baseline.ts) over the same ledger.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { startExchangeSimulator } from '../src/adapters/exchange-simulator/index.js';
import { ledgerStart, readLedgerBatch } from '../src/adapters/ledger/ledger-follower.js';
import { parseBalanceEvent, userIdOfBalanceSubject } from '../src/adapters/matching-engine/contract.js';
import { natsNames } from '../src/nats/names.js';
import { ensureAccountTopology } from '../src/nats/topology.js';
import type { Logger } from '../src/observability/logger.js';
import { defaultMeDbLimits, MeDbReconciler } from '../src/recon/me-db/reconciler.js';
import { startProfile } from './cpu-profile.js';
import { fullScanReconcile, type FullScanResult } from './baseline.js';
import { countRows } from './history.js';
import { benchNamespace, createBenchDatabase, deleteNamespaceStreams, once, sleep, timed, until, type Cleanup } from './support.js';

export interface ThroughputOptions {
  backlogEvents: number;
  users: number;
  currencies: readonly string[];
  graceMs: number;
  /** When set, a V8 CPU profile of this process during the catch-up is written there. */
  profilePath?: string;
}

export interface ThroughputResult {
  events: number;
  ledgerRows: number;
  generateMs: number;
  /** start() (restore, consumer, snapshot attempt) until both watermarks are at the end. */
  oursMs: number;
  startMs: number;
  engineDoneMs: number;
  ledgerDoneMs: number;
  alertsDuringCatchup: number;
  openBreaksAfter: number;
  ceilingEngineMs: number;
  ceilingLedgerMs: number;
  baseline: FullScanResult;
  graceMs: number;
}

export async function runThroughput(ctx: { serverUrl: string; nc: NatsConnection; log: Logger; cleanup: Cleanup; say: (line: string) => void }, opts: ThroughputOptions): Promise<ThroughputResult> {
  const { nc, log, cleanup, say } = ctx;
  const db = await createBenchDatabase(ctx.serverUrl, 'tp', log);
  cleanup.add(`drop ${db.name}`, () => db.drop());
  const names = natsNames(benchNamespace());
  cleanup.add(`streams of ${names.namespace}`, () => deleteNamespaceStreams(nc, names));
  await ensureAccountTopology(nc, names);
  const pool = db.pool;

  say(`throughput: generating a backlog of ≥ ${opts.backlogEvents} engine events with the simulator (no reconciler running)`);
  const sim = await startExchangeSimulator({
    nc, pool, names, seed: 1, rateEventsPerSec: 100_000, users: opts.users, currencies: opts.currencies, log, resumeFromLedger: false,
  });
  cleanup.add('throughput simulator', () => sim.stop());
  const generated = await timed(async () => {
    await until('the backlog', () => sim.lastSeq() >= opts.backlogEvents, Math.max(120_000, opts.backlogEvents), 20);
    await sim.pause();
  });
  const jsm = await jetstreamManager(nc);
  const events = (await jsm.streams.info(names.meBalanceStream)).state.messages;
  const ledgerRows = await countRows(pool);
  say(`throughput: backlog ${events} events + ${ledgerRows} ledger rows in ${(generated.ms / 1000).toFixed(1)} s; baseline full scan`);

  // The baseline over the same ledger, while the simulator still serves its snapshot.
  const baseline = await fullScanReconcile(pool, nc, names);
  if (baseline.mismatches.length > 0 || baseline.currenciesNonZero.length > 0) {
    throw new Error(`throughput: the backlog does not reconcile (${baseline.mismatches.length} mismatches): the simulator or the baseline is wrong`);
  }
  // Stopped: no snapshot is served, so the reconciler reads the stream from its first event.
  await sim.stop();

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

  say(`throughput: the reconciler catches up (grace ${opts.graceMs} ms)`);
  let alerts = 0;
  const sub = nc.subscribe(names.reconAlertSubject('me_db'), { callback: () => void alerts++ });
  await nc.flush();
  const reconciler = new MeDbReconciler({
    nc, js: jetstream(nc), jsm, pool, names, log,
    limits: { ...defaultMeDbLimits, graceMs: opts.graceMs, snapshotTimeoutMs: 2_000 },
  });
  const stopReconciler = once(() => reconciler.stop());
  cleanup.add('throughput reconciler', stopReconciler);
  const profiler = opts.profilePath ? await startProfile() : null;
  const t0 = performance.now();
  await reconciler.start();
  const startMs = performance.now() - t0;
  let engineDoneMs = Number.NaN;
  let ledgerDoneMs = Number.NaN;
  await until('the reconciler to catch up', () => {
    const s = reconciler.status();
    const now = performance.now() - t0;
    if (Number.isNaN(engineDoneMs) && Number(s.watermarks?.engineSeq ?? 0) >= events) engineDoneMs = now;
    if (Number.isNaN(ledgerDoneMs) && (s.counters?.ledgerRowsReadSinceStart ?? 0) >= ledgerRows) ledgerDoneMs = now;
    return !Number.isNaN(engineDoneMs) && !Number.isNaN(ledgerDoneMs);
  }, 600_000, 5);
  const oursMs = Math.max(engineDoneMs, ledgerDoneMs);
  if (profiler && opts.profilePath) {
    await profiler.stop(opts.profilePath);
    say(`throughput: CPU profile of the catch-up written to ${opts.profilePath} (open in Chrome DevTools › Performance)`);
  }
  const alertsDuringCatchup = alerts;
  // Whatever was raised while one side was behind must resolve now that both are at the end.
  await until('breaks raised during catch-up to resolve', () => reconciler.status().openBreaks === 0, 30_000, 50).catch(() => undefined);
  await sleep(300);
  const openBreaksAfter = reconciler.status().openBreaks;
  sub.unsubscribe();
  await stopReconciler();
  // Leave nothing running or stored for the next phase.
  await deleteNamespaceStreams(nc, names);
  await db.drop();

  return {
    events, ledgerRows, generateMs: generated.ms, oursMs, startMs, engineDoneMs, ledgerDoneMs,
    alertsDuringCatchup, openBreaksAfter, ceilingEngineMs: ceilingEngine.ms, ceilingLedgerMs: ceilingLedger.ms, baseline, graceMs: opts.graceMs,
  };
}

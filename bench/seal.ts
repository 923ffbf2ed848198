/**
 * Phase 3: the seal against the baseline at growing ledger histories.
 *
 * For each size (ascending, one database that grows): the ledger is grown in SQL to that many
 * rows, the reconciler's checkpoint is seeded to match it (so the reconciler starts at the end
 * of history without reading it), the simulator (resumed from the ledger's balances) plays a
 * few short business days on top (one engine-only fault in the first), and at the end of each,
 * with the exchange paused at a consistent cut:
 * - the continuous side: MeDbReconciler.seal(date) is timed. The reconciler runs with a
 *   checkpoint interval longer than a day, so each seal writes every position its day touched
 *   (what the day changed); seals of further dates with nothing pending are timed too.
 * - the baseline: bench/baseline.ts, the full scan plus a snapshot compare, timed R times.
 *   (after the last day).
 * Both must find exactly the one injected break.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { startExchangeSimulator } from '../src/adapters/exchange-simulator/index.js';
import { ensureBalanceStream } from '../src/adapters/exchange-simulator/balance-stream.js';
import { natsNames } from '../src/nats/names.js';
import { ensureAccountTopology } from '../src/nats/topology.js';
import type { Logger } from '../src/observability/logger.js';
import { defaultMeDbLimits, MeDbReconciler } from '../src/recon/me-db/reconciler.js';
import { fullScanReconcile, type FullScanResult } from './baseline.js';
import { countRows, growLedger, publishStartMarker, seedCheckpoint, userIdOf, userIdsOf, type KeySpace } from './history.js';
import { benchNamespace, createBenchDatabase, deleteNamespaceStreams, median, once, sleep, timed, until, type Cleanup } from './support.js';

export interface SealOptions {
  sizes: readonly number[];
  space: KeySpace;
  dayMs: number;
  dayRateEventsPerSec: number;
  graceMs: number;
  baselineRuns: number;
  sealRuns: number;
}

export interface SealSizeResult {
  targetRows: number;
  /** Rows in ledger_entries at the cut (history + the day). */
  rowsAtCut: number;
  generateMs: number;
  seedMs: number;
  positions: number;
  days: number;
  /** Per day (mean). */
  dayEvents: number;
  dayLedgerRows: number;
  /** Ledger rows the reconciler read in this incarnation: the days only, never the history. */
  reconcilerRowsRead: number;
  /** … and right after start(): 0, the history is not read. */
  reconcilerRowsReadAtStart: number;
  /** start(): restoring the seeded checkpoint (positions, totals, watermarks, breaks). */
  reconcilerStartMs: number;
  /** One seal per day, each flushing every position that day touched. */
  sealPendingMs: number[];
  sealPendingMedianMs: number;
  /** Seals of further dates with nothing pending: median. */
  sealIdleMs: number;
  sealOpenBreaks: number;
  baselineRuns: FullScanResult[];
  baselineMedianMs: number;
  baselineSqlMedianMs: number;
  baselineSnapshotMedianMs: number;
  baselineMismatches: number;
}

export async function runSeal(ctx: { serverUrl: string; nc: NatsConnection; log: Logger; cleanup: Cleanup; say: (line: string) => void }, opts: SealOptions): Promise<SealSizeResult[]> {
  const { nc, log, cleanup, say } = ctx;
  const db = await createBenchDatabase(ctx.serverUrl, 'seal', log);
  cleanup.add(`drop ${db.name}`, () => db.drop());
  const pool = db.pool;
  const jsm = await jetstreamManager(nc);
  const sizes = [...opts.sizes].sort((a, b) => a - b);
  const results: SealSizeResult[] = [];
  let nextJournal = 0;

  for (const [index, size] of sizes.entries()) {
    say(`seal @ ${size} rows: growing the ledger in SQL`);
    const grown = await timed(() => growLedger(pool, opts.space, nextJournal, size, (rows) => say(`  … ${rows} rows`)));
    nextJournal = grown.value.nextJournal;

    const names = natsNames(benchNamespace());
    cleanup.add(`streams of ${names.namespace}`, () => deleteNamespaceStreams(nc, names));
    await ensureAccountTopology(nc, names);
    await ensureBalanceStream(nc, names);
    const seeded = await timed(async () => {
      const checkpoint = await seedCheckpoint(pool, 1);
      await publishStartMarker(nc, pool, names, userIdOf(0), opts.space.currencies[0] as string);
      return checkpoint;
    });
    const rowsBeforeDay = seeded.value.rowsRead;

    // The reconciler first, on a quiet exchange: its start is the restore of the seeded checkpoint.
    const reconciler = new MeDbReconciler({
      nc, js: jetstream(nc), jsm, pool, names, log,
      // Longer than a day: each seal then carries every position its day changed.
      limits: { ...defaultMeDbLimits, graceMs: opts.graceMs, checkpointMs: 3_600_000 },
    });
    const stopReconciler = once(() => reconciler.stop());
    cleanup.add(`seal reconciler @ ${size}`, stopReconciler);
    const started = await timed(() => reconciler.start());
    const readAtStart = reconciler.status().counters?.ledgerRowsReadSinceStart ?? -1;

    say(`seal @ ${size} rows: ${opts.sealRuns} business days of ${opts.dayMs} ms at ${opts.dayRateEventsPerSec} events/s, a seal after each`);
    const sim = await startExchangeSimulator({
      nc, pool, names, seed: 100 + index, rateEventsPerSec: opts.dayRateEventsPerSec, users: userIdsOf(opts.space), currencies: opts.space.currencies, log, resumeFromLedger: true,
    });
    const stopSim = once(() => sim.stop());
    cleanup.add(`seal simulator @ ${size}`, stopSim);

    const faultUser = userIdOf(1);
    const faultCurrency = opts.space.currencies[1 % opts.space.currencies.length] as string;
    const pending: number[] = [];
    let sealOpenBreaks = -1;
    let lastSeq = 1;
    let rowsAtCut = rowsBeforeDay;
    for (let day = 0; day < opts.sealRuns; day++) {
      if (day > 0) sim.resume();
      if (day === 0) {
        await sleep(opts.dayMs / 3);
        sim.faults.engineOnlyChange({ userId: faultUser, currency: faultCurrency, deltaMinor: 10n ** 15n });
        await sleep(opts.dayMs - opts.dayMs / 3);
      } else {
        await sleep(opts.dayMs);
      }
      await sim.pause();
      lastSeq = sim.lastSeq();
      rowsAtCut = await countRows(pool);
      const expectRows = rowsAtCut - rowsBeforeDay;
      await until('the reconciler at the cut', () => {
        const s = reconciler.status();
        return Number(s.watermarks?.engineSeq ?? 0) === lastSeq && s.counters?.ledgerRowsReadSinceStart === expectRows;
      }, 120_000, 5, () => {
        const s = reconciler.status();
        say(`  waiting for the reconciler: engine ${String(s.watermarks?.engineSeq)}/${lastSeq}, ledger rows ${String(s.counters?.ledgerRowsReadSinceStart)}/${expectRows}`);
      });
      if (day === 0) {
        await until('the injected break', () => reconciler.liveBreaks().some((b) => b.userId === faultUser && b.currency === faultCurrency), 30_000, 5);
      }
      const sealed = await timed(() => reconciler.seal(`2030-01-${String(day + 1).padStart(2, '0')}`));
      pending.push(sealed.ms);
      sealOpenBreaks = sealed.value.openBreaks.length;
    }
    const status = reconciler.status();
    const idle: number[] = [];
    for (let i = 0; i < 3; i++) idle.push((await timed(() => reconciler.seal(`2030-02-${String(i + 1).padStart(2, '0')}`))).ms);

    say(`seal @ ${size} rows: baseline full scan ×${opts.baselineRuns}`);
    const baselineRuns: FullScanResult[] = [];
    for (let i = 0; i < opts.baselineRuns; i++) baselineRuns.push(await fullScanReconcile(pool, nc, names));

    results.push({
      targetRows: size,
      rowsAtCut,
      generateMs: grown.ms,
      seedMs: seeded.ms,
      positions: seeded.value.positions,
      days: opts.sealRuns,
      dayEvents: (lastSeq - 1) / opts.sealRuns,
      dayLedgerRows: (rowsAtCut - rowsBeforeDay) / opts.sealRuns,
      reconcilerRowsRead: status.counters?.ledgerRowsReadSinceStart ?? -1,
      reconcilerRowsReadAtStart: readAtStart,
      reconcilerStartMs: started.ms,
      sealPendingMs: pending,
      sealPendingMedianMs: median(pending),
      sealIdleMs: median(idle),
      sealOpenBreaks,
      baselineRuns,
      baselineMedianMs: median(baselineRuns.map((r) => r.totalMs)),
      baselineSqlMedianMs: median(baselineRuns.map((r) => r.sqlMs)),
      baselineSnapshotMedianMs: median(baselineRuns.map((r) => r.snapshotMs)),
      baselineMismatches: baselineRuns[0]?.mismatches.length ?? -1,
    });
    await stopReconciler();
    await stopSim();
    await deleteNamespaceStreams(nc, names);
  }
  await db.drop();
  return results;
}

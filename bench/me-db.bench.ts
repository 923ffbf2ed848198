/**
 * Suite `me_db` — the me_db reconciler against the full-scan baseline, in one run.
 *
 *   npm run bench -- --suite me_db              # full: 1M and 10M ledger rows (≈ 5–8 min on 2 cores)
 *   npm run bench -- --quick --suite me_db      # 100k and 1M rows, smaller backlog and fewer faults (≈ 1.5 min)
 *
 * Three phases, each on its own database and NATS namespace, removed at the end:
 * 1. on one backlog: catch-up from a checkpoint (the delta path) against its I/O + parse ceiling,
 *    and a cold start (no checkpoint, engine snapshot) against the full scan (bench/throughput.ts);
 * 2. break-detection latency under background load (bench/latency.ts);
 * 3. seal cost against the cron-style full scan at growing ledger histories (bench/seal.ts).
 * Sizes are env vars BENCH_<NAME> for the names in `optionSpec` (e.g. BENCH_SIZES=1000000,5000000).
 */
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { runLatency, type LatencyResult } from './latency.js';
import { benchCurrencies } from './history.js';
import { runSeal, type SealSizeResult } from './seal.js';
import type { BenchSuite, Figure } from './suite.js';
import { fmtInt, fmtMs, fmtRatio, fmtRows, percentile } from './support.js';
import { runThroughput, type ThroughputResult } from './throughput.js';

const optionSpec = {
  sizes: { help: 'ledger history sizes for the seal phase, comma-separated (full 1000000,10000000; quick 100000,1000000)' },
  'backlog-events': { help: 'engine events in the catch-up backlog (full 200000, quick 50000); ledger rows follow (~1.8 per event)' },
  faults: { help: 'faults injected in the latency phase (full 100, quick 50)' },
  'fault-interval-ms': { help: 'time between two injected faults (200)' },
  'grace-ms': { help: 'RECON grace window in the latency and seal phases (200)' },
  'catchup-grace-ms': { help: 'grace window in the catch-up phase (5000, the production default)' },
  rate: { help: 'background engine events/s in the latency phase (1000)' },
  'day-ms': { help: 'length of each business day played before a seal (full 3000, quick 2000)' },
  'day-rate': { help: 'engine events/s during that day (2000)' },
  users: { help: 'users in the seal phase key space (10000)' },
  currencies: { help: 'currencies per user in the seal phase key space, 1-10 (5)' },
  'baseline-runs': { help: 'full-scan runs per size, median reported (3)' },
  'seal-runs': { help: 'business days (so seals with the day pending) per size, median reported (3)' },
  phases: { help: 'which phases, comma-separated: throughput,latency,seal (all)' },
  'profile-catchup': { help: 'write a V8 CPU profile of the catch-up from a checkpoint (phase 1) to this path' },
  'profile-cold': { help: 'write a V8 CPU profile of the cold start (phase 1) to this path' },
} as const;

type OptionName = keyof typeof optionSpec;

function readOptions(quick: boolean) {
  const raw = (name: OptionName): string | undefined => process.env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
  const int = (name: OptionName, full: number, quickValue = full): number => {
    const v = raw(name);
    if (v === undefined || v === '') return quick ? quickValue : full;
    const n = Number(String(v).replaceAll('_', ''));
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`--${name} must be a non-negative integer, got "${String(v)}"`);
    return n;
  };
  const list = (name: OptionName, fallback: string): string[] => String(raw(name) ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
  const sizes = list('sizes', quick ? '100000,1000000' : '1000000,10000000').map((s) => {
    const n = Number(s.replaceAll('_', ''));
    if (!Number.isInteger(n) || n < 2) throw new RangeError(`--sizes: "${s}" is not a row count`);
    return n;
  });
  const currencies = int('currencies', 5);
  if (currencies < 1 || currencies > benchCurrencies.length) throw new RangeError(`--currencies must be 1…${benchCurrencies.length}`);
  const phases = new Set(list('phases', 'throughput,latency,seal'));
  for (const p of phases) if (!['throughput', 'latency', 'seal'].includes(p)) throw new RangeError(`--phases: unknown phase "${p}"`);
  return {
    quick,
    sizes,
    backlogEvents: int('backlog-events', 200_000, 50_000),
    faults: int('faults', 100, 50),
    faultIntervalMs: int('fault-interval-ms', 200),
    graceMs: int('grace-ms', 200),
    catchupGraceMs: int('catchup-grace-ms', 5_000),
    rate: int('rate', 1_000),
    dayMs: Math.max(1_000, int('day-ms', 3_000, 2_000)),
    dayRate: int('day-rate', 2_000),
    users: int('users', 10_000),
    currencies: benchCurrencies.slice(0, currencies),
    baselineRuns: Math.max(1, int('baseline-runs', 3)),
    sealRuns: Math.max(1, int('seal-runs', 3)),
    phases,
    profileCatchup: raw('profile-catchup') === undefined ? undefined : String(raw('profile-catchup')),
    profileCold: raw('profile-cold') === undefined ? undefined : String(raw('profile-cold')),
  };
}

type Options = ReturnType<typeof readOptions>;

/** Machine load and this process's event-loop delay per phase: how much the figures competed for CPU. */
type LoadByPhase = Record<string, { before: number; after: number; loopDelayP50Ms: number; loopDelayP99Ms: number; loopDelayMaxMs: number }>;


export const meDbSuite: BenchSuite = {
  name: 'me_db',
  description: 'me_db reconciler: catch-up vs its I/O + parse ceiling, cold start vs the full scan; break latency; seal vs full scan by history',
  async run(ctx) {
    const opts = readOptions(ctx.quick);
    const load: LoadByPhase = {};
    const phase = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
      const before = os.loadavg()[0] ?? 0;
      const loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      try {
        ctx.say(`me_db: phase ${name}`);
        return await run();
      } finally {
        loopDelay.disable();
        load[name] = { before, after: os.loadavg()[0] ?? 0, loopDelayP50Ms: loopDelay.percentile(50) / 1e6, loopDelayP99Ms: loopDelay.percentile(99) / 1e6, loopDelayMaxMs: loopDelay.max / 1e6 };
      }
    };
    const throughput = opts.phases.has('throughput')
      ? await phase('throughput', () => runThroughput(ctx, { backlogEvents: opts.backlogEvents, users: 5_000, currencies: benchCurrencies.slice(0, 5), graceMs: opts.catchupGraceMs, ...(opts.profileCatchup ? { profilePath: opts.profileCatchup } : {}), ...(opts.profileCold ? { coldProfilePath: opts.profileCold } : {}) }))
      : null;
    const latency = opts.phases.has('latency')
      ? await phase('latency', () => runLatency(ctx, { faults: opts.faults, intervalMs: opts.faultIntervalMs, graceMs: opts.graceMs, rateEventsPerSec: opts.rate, users: Math.max(500, opts.faults), currencies: ['BTC', 'ETH', 'USDT'] }))
      : null;
    const seal = opts.phases.has('seal')
      ? await phase('seal', () => runSeal(ctx, {
        sizes: opts.sizes, space: { users: opts.users, currencies: opts.currencies }, dayMs: opts.dayMs, dayRateEventsPerSec: opts.dayRate,
        graceMs: opts.graceMs, baselineRuns: opts.baselineRuns, sealRuns: opts.sealRuns,
      }))
      : null;
    const report = renderReport({ opts, throughput, latency, seal, load });
    return {
      figures: report.figures,
      details: report.details,
      raw: { throughput, latency, seal, load },
      settings: { ...opts, phases: [...opts.phases] },
    };
  },
};

// ─── the report ──────────────────────────────────────────────────────────────

function renderReport(r: { opts: Options; throughput: ThroughputResult | null; latency: LatencyResult | null; seal: SealSizeResult[] | null; load: LoadByPhase }): { figures: Figure[]; details: string[] } {
  const { opts, throughput: tp, latency: lat, seal } = r;
  const out: string[] = [];
  out.push('### me_db');
  out.push('');
  out.push('Everything (simulator, reconciler, bench) runs in one Node process. ' +
    `1-min load average before → after each phase (${os.cpus().length} cores; above that, other work competed) and this process's event-loop delay p99: ` +
    `${Object.entries(r.load).map(([name, l]) => `${name} ${l.before.toFixed(1)} → ${l.after.toFixed(1)}, loop p99 ${fmtMs(l.loopDelayP99Ms)}`).join('; ')}.`);
  out.push('');

  const figures: Figure[] = [];
  const latencies = lat ? lat.samples.filter((s) => s.alertedAtMs !== null).map((s) => (s.alertedAtMs as number) - s.writtenAtMs) : [];
  const sealBySize = seal ?? [];
  const smallest = sealBySize[0];
  const largest = sealBySize.at(-1);

  if (tp) {
    const items = tp.events + tp.ledgerRows;
    const oursRate = items / (tp.catchUp.totalMs / 1000);
    const ceilingRate = items / ((tp.ceilingEngineMs + tp.ceilingLedgerMs) / 1000);
    const wrong = (run: typeof tp.catchUp): string => (run.alerts > 0 || run.stateDifferences > 0 ? `; ${run.alerts} alerts, ${run.stateDifferences} keys unlike the full scan` : '; 0 alerts, same state as the full scan');
    figures.push({ measure: `me_db catch-up throughput from a checkpoint, ${fmtInt(tp.events)} events + ${fmtInt(tp.ledgerRows)} rows${wrong(tp.catchUp)}`, ours: `${fmtInt(oursRate)} /s`, baseline: `I/O + parse ceiling ${fmtInt(ceilingRate)} /s`, ratio: oursRate / ceilingRate, ratioMeaning: 'share of the ceiling', goal: '≥ 0.8×', met: oursRate / ceilingRate >= 0.8 });
    const coldWrong = tp.coldStarts.find((r) => r.alerts > 0 || r.stateDifferences > 0) ?? tp.coldStart;
    figures.push({ measure: `me_db: time to reconcile that backlog from a cold start (no checkpoint, engine snapshot; median of ${tp.coldStarts.length}, each after a full scan)${wrong(coldWrong)}`, ours: `${fmtMs(tp.coldStart.totalMs)} (${tp.coldStarts.map((r) => fmtMs(r.totalMs)).join(', ')})`, baseline: `full scan ${fmtMs(tp.baseline.totalMs)} (${tp.baselines.map((b) => fmtMs(b.totalMs)).join(', ')})`, ratio: tp.baseline.totalMs / tp.coldStart.totalMs, ratioMeaning: 'scan ÷ ours', goal: 'never slower than the full scan (≥ 1×)', met: tp.coldStart.totalMs <= tp.baseline.totalMs });
  }
  if (lat && latencies.length > 0) {
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    const cronFloor = (ms: number): number => 1.5 * ms; // back-to-back scans: a fault waits half a scan on average, then one whole scan
    const refs = sealBySize.map((s) => `${fmtRows(s.targetRows)}: ${fmtMs(cronFloor(s.baselineMedianMs))}`).join(', ');
    const refMs = largest ? cronFloor(largest.baselineMedianMs) : Number.NaN;
    figures.push({ measure: `me_db break-detection latency p50 (grace ${lat.graceMs} ms${lat.unexpectedAlerts.length > 0 ? `; ${lat.unexpectedAlerts.length} false alarms` : ', no false alarm'})`, ours: `${fmtMs(p50)} (${fmtMs(p50 - lat.graceMs)} after grace)`, baseline: refs ? `back-to-back full scan, mean ≈ 1.5 × scan: ${refs}` : 'n/a', ratio: largest ? refMs / p50 : null, ratioMeaning: largest ? `scan ÷ ours, vs ${fmtRows(largest.targetRows)}` : 'no seal phase' });
    figures.push({ measure: 'me_db break-detection latency p99', ours: `${fmtMs(p99)} (${fmtMs(p99 - lat.graceMs)} after grace)`, baseline: largest ? `worst case 2 × scan at ${fmtRows(largest.targetRows)}: ${fmtMs(2 * largest.baselineMedianMs)}` : 'n/a', ratio: largest ? (2 * largest.baselineMedianMs) / p99 : null, ratioMeaning: largest ? `scan ÷ ours, vs ${fmtRows(largest.targetRows)}` : 'no seal phase', goal: '≤ 1 s past the grace window', met: p99 - lat.graceMs <= 1_000 });
  }
  for (const s of sealBySize) {
    figures.push({ measure: `me_db seal at ${fmtRows(s.targetRows)} rows of history (a day's changes pending)`, ours: fmtMs(s.sealPendingMedianMs), baseline: `full scan ${fmtMs(s.baselineMedianMs)} (its SQL ${fmtMs(s.baselineSqlMedianMs)})`, ratio: s.baselineMedianMs / s.sealPendingMedianMs, ratioMeaning: 'scan ÷ ours' });
  }
  if (smallest && largest && smallest !== largest) {
    const historyGrowth = largest.rowsAtCut / smallest.rowsAtCut;
    figures.push({ measure: `me_db growth ${fmtRows(smallest.targetRows)} → ${fmtRows(largest.targetRows)} (history ×${historyGrowth.toFixed(1)})`, ours: `seal ×${(largest.sealPendingMedianMs / smallest.sealPendingMedianMs).toFixed(2)}`, baseline: `full scan ×${(largest.baselineMedianMs / smallest.baselineMedianMs).toFixed(2)} (its SQL ×${(largest.baselineSqlMedianMs / smallest.baselineSqlMedianMs).toFixed(2)})`, ratio: null });
  }

  if (tp) {
    out.push('#### 1. Catch-up and cold start on a backlog');
    out.push('');
    out.push(`The simulator wrote ${fmtInt(tp.events)} engine events and ${fmtInt(tp.ledgerRows)} ledger rows (5,000 users × 5 currencies) in ${fmtMs(tp.generateMs)} with no reconciler running. ` +
      'Catch-up: a reconciler whose checkpoint was saved just before the backlog began (the delta path: every event and row applied one by one, checkpoints and engine history written) ' +
      'was timed from start() until both watermarks reached the end. Cold start: the checkpoint removed, a fresh reconciler with the engine (the paused simulator) answering snapshots, ' +
      `timed the same way (it seeds both sides as sets at their watermarks, ADR 0025, then follows). Grace ${tp.graceMs} ms.`);
    out.push('');
    const run = (label: string, r: typeof tp.catchUp): string[][] => [
      [`${label}: start() → both watermarks at the end`, fmtMs(r.totalMs), `${fmtInt((tp.events + tp.ledgerRows) / (r.totalMs / 1000))} events + rows/s`],
      ['  of which start()', fmtMs(r.startMs), ''],
      ['  engine side at the end after', fmtMs(r.engineDoneMs), `${fmtInt(r.engineEventsApplied)} events applied one by one`],
      ['  ledger side at the end after', fmtMs(r.ledgerDoneMs), `${fmtInt(r.ledgerRowsRead)} rows read one by one, ${fmtInt(r.ledgerRowsSeeded)} as sums`],
      ['  alerts / open breaks after / keys unlike the full scan', `${r.alerts} / ${r.openBreaksAfter} / ${r.stateDifferences}`, ''],
    ];
    out.push(table(['', 'time', 'rate'], [
      ...run('catch-up from a checkpoint', tp.catchUp),
      ...run('cold start, no checkpoint (the median run)', tp.coldStart),
      ['ceiling: ordered consumer + contract parse, events', fmtMs(tp.ceilingEngineMs), `${fmtInt(tp.events / (tp.ceilingEngineMs / 1000))} events/s`],
      ['ceiling: readLedgerBatch from the start, rows', fmtMs(tp.ceilingLedgerMs), `${fmtInt(tp.ledgerRows / (tp.ceilingLedgerMs / 1000))} rows/s`],
      ['baseline full scan of the same ledger (SQL, then snapshot, then compare; the median run)', `${fmtMs(tp.baseline.totalMs)} (SQL ${fmtMs(tp.baseline.sqlMs)}, snapshot ${fmtMs(tp.baseline.snapshotMs)}, compare ${fmtMs(tp.baseline.compareMs)})`, `${fmtInt(tp.ledgerRows / (tp.baseline.totalMs / 1000))} rows/s`],
    ]));
    out.push('');
  }

  if (lat) {
    const ok = lat.samples.filter((s) => s.alertedAtMs !== null);
    const row = (label: string, sample: readonly number[]): string[] => sample.length === 0
      ? [label, '0', '', '', '', '', '']
      : [label, String(sample.length), fmtMs(percentile(sample, 50)), fmtMs(percentile(sample, 90)), fmtMs(percentile(sample, 99)), fmtMs(Math.max(...sample)), `${fmtMs(percentile(sample, 50) - lat.graceMs)} / ${fmtMs(percentile(sample, 99) - lat.graceMs)}`];
    const of = (kind: string): number[] => ok.filter((s) => s.kind === kind).map((s) => (s.alertedAtMs as number) - s.writtenAtMs);
    out.push('#### 2. Break-detection latency');
    out.push('');
    out.push(`${lat.samples.length} faults, one every ${opts.faultIntervalMs} ms, each on its own (user, currency), over ${fmtInt(lat.backgroundEventsPerSec)} background engine events/s ` +
      `(${fmtInt(lat.backgroundLedgerRows)} ledger rows during the run). Grace window RECON_GRACE_MS = ${lat.graceMs} ms, tick ${lat.tickMs} ms. ` +
      'Timed from the faulty write (engineOnlyChange called / the raw INSERT sent) to the alert arriving on recon.alert.me_db at a separate connection; nothing subtracted.');
    out.push('');
    out.push(table(['faults', 'alerted', 'p50', 'p90', 'p99', 'max', 'minus grace p50 / p99'], [
      row('all', latencies),
      row('engine-only change', of('engine_only')),
      row('raw ledger insert', of('ledger_only')),
    ]));
    out.push('');
    out.push(`The reconciler's own lag behind its inputs while the faults went in (sampled every 100 ms): engine ${fmtInt(lat.engineLagEvents.p50)} events p50, ${fmtInt(lat.engineLagEvents.p99)} p99, ${fmtInt(lat.engineLagEvents.max)} max; ` +
      `ledger ${fmtInt(lat.ledgerLagRows.p50)} rows p50, ${fmtInt(lat.ledgerLagRows.p99)} p99, ${fmtInt(lat.ledgerLagRows.max)} max.`);
    out.push('');
    out.push(`Faults with no alert within 30 s: ${lat.samples.length - ok.length}. Alerts for keys no fault touched (false alarms): ${lat.unexpectedAlerts.length}` +
      (lat.unexpectedAlerts.length > 0 ? ` (${lat.unexpectedAlerts.slice(0, 5).map((a) => `${a.kind} ${a.userId ?? ''}/${a.currency ?? ''}`).join(', ')}${lat.unexpectedAlerts.length > 5 ? ', …' : ''})` : '') + '.');
    out.push('');
  }

  if (seal && seal.length > 0) {
    out.push('#### 3. Seal against the full scan, by ledger history');
    out.push('');
    const s0 = seal[0] as SealSizeResult;
    out.push(`Key space ${fmtInt(s0.positions)} (user, currency) positions (${fmtInt(opts.users)} users × ${opts.currencies.length} currencies), the same at every size. ` +
      'History generated in SQL (balanced deposit/fee journals against house:custody / house:fees, VACUUM ANALYZE + CHECKPOINT after); the reconciler\'s checkpoint seeded to match it, ' +
      'so it starts at the end of history without reading it. ' +
      `Then ${opts.sealRuns} business days of ${opts.dayMs} ms at ${fmtInt(opts.dayRate)} events/s (one engine-only fault in the first), each ended by pausing the exchange ` +
      '(a consistent cut) and sealing; the reconciler\'s checkpoint interval is longer than a day, so each seal writes every position its day touched. ' +
      `Then 3 seals of further dates with nothing pending (median), and ${opts.baselineRuns} full scans (median; SQL, then snapshot, then compare; ` +
      'the table is in the OS cache: the baseline\'s best case).');
    out.push('');
    out.push(table(
      ['history', 'rows at cut', 'per day: events / rows', 'rows read by reconciler: at start / in all', 'reconciler start', 'seal, day pending (each)', 'seal, idle', 'full scan (SQL + snapshot)', 'scan ÷ seal', 'scan SQL ÷ seal', 'breaks: seal / scan'],
      seal.map((s) => [
        fmtRows(s.targetRows), fmtInt(s.rowsAtCut), `${fmtInt(s.dayEvents)} / ${fmtInt(s.dayLedgerRows)}`, `${fmtInt(s.reconcilerRowsReadAtStart)} / ${fmtInt(s.reconcilerRowsRead)}`, fmtMs(s.reconcilerStartMs),
        `${fmtMs(s.sealPendingMedianMs)} (${s.sealPendingMs.map(fmtMs).join(', ')})`, fmtMs(s.sealIdleMs),
        `${fmtMs(s.baselineMedianMs)} (${fmtMs(s.baselineSqlMedianMs)} + ${fmtMs(s.baselineSnapshotMedianMs)})`,
        fmtRatio(s.baselineMedianMs / s.sealPendingMedianMs), fmtRatio(s.baselineSqlMedianMs / s.sealPendingMedianMs), `${s.sealOpenBreaks} / ${s.baselineMismatches}`,
      ]),
    ));
    out.push('');
    out.push(`Setup (not part of any figure): ${seal.map((s) => `${fmtRows(s.targetRows)}: grow ${fmtMs(s.generateMs)}, seed checkpoint ${fmtMs(s.seedMs)}`).join('; ')}.`);
    out.push('');
  }

  return { figures, details: [out.join('\n')] };
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

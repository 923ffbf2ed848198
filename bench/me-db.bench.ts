/**
 * `npm run bench` — the me_db reconciler against the full-scan baseline, in one run.
 *
 *   npm run bench                 # full: 1M and 10M ledger rows (≈ 6–9 min on 2 cores)
 *   npm run bench -- --quick      # 100k and 1M rows, smaller backlog and fewer faults (≈ 2 min)
 *   npm run bench -- --help       # every option (each also as an env var BENCH_<NAME>)
 *
 * Three phases, each on its own database and NATS namespace, removed at the end:
 * 1. delta throughput: a fresh reconciler catching up on a backlog (bench/throughput.ts);
 * 2. break-detection latency under background load (bench/latency.ts);
 * 3. seal cost against the cron-style full scan at growing ledger histories (bench/seal.ts).
 * Absolute times on a shared box are noisy: the report leads with ratios of ours against a
 * baseline measured in the same run. The markdown report goes to stdout and to --out.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { createLogger } from '../src/observability/logger.js';
import { runLatency, type LatencyResult } from './latency.js';
import { benchCurrencies } from './history.js';
import { runSeal, type SealSizeResult } from './seal.js';
import { Cleanup, findServices, fmtInt, fmtMs, fmtRatio, fmtRows, percentile, withClient } from './support.js';
import { runThroughput, type ThroughputResult } from './throughput.js';

const optionSpec = {
  quick: { type: 'boolean', default: false, help: 'small sizes for trying it out (100k/1M rows, 50k-event backlog, 50 faults)' },
  sizes: { type: 'string', help: 'ledger history sizes for the seal phase, comma-separated (full 1000000,10000000; quick 100000,1000000)' },
  'backlog-events': { type: 'string', help: 'engine events in the catch-up backlog (full 200000, quick 50000); ledger rows follow (~1.8 per event)' },
  faults: { type: 'string', help: 'faults injected in the latency phase (full 100, quick 50)' },
  'fault-interval-ms': { type: 'string', help: 'time between two injected faults (200)' },
  'grace-ms': { type: 'string', help: 'RECON grace window in the latency and seal phases (200)' },
  'catchup-grace-ms': { type: 'string', help: 'grace window in the catch-up phase (5000, the production default)' },
  rate: { type: 'string', help: 'background engine events/s in the latency phase (1000)' },
  'day-ms': { type: 'string', help: 'length of each business day played before a seal (full 3000, quick 2000)' },
  'day-rate': { type: 'string', help: 'engine events/s during that day (2000)' },
  users: { type: 'string', help: 'users in the seal phase key space (10000)' },
  currencies: { type: 'string', help: 'currencies per user in the seal phase key space, 1-10 (5)' },
  'baseline-runs': { type: 'string', help: 'full-scan runs per size, median reported (3)' },
  'seal-runs': { type: 'string', help: 'business days (so seals with the day pending) per size, median reported (3)' },
  phases: { type: 'string', help: 'which phases, comma-separated: throughput,latency,seal (all)' },
  out: { type: 'string', help: 'markdown report path (bench/results/latest.md); a .json beside it' },
  'profile-catchup': { type: 'string', help: 'write a V8 CPU profile of the catch-up (phase 1) to this path' },
  help: { type: 'boolean', default: false, help: 'this text' },
} as const;

type OptionName = keyof typeof optionSpec;

function usage(): string {
  const lines = Object.entries(optionSpec).map(([name, spec]) => `  --${name.padEnd(18)} ${spec.help}  [env BENCH_${name.toUpperCase().replaceAll('-', '_')}]`);
  return `usage: npm run bench -- [options]\n${lines.join('\n')}`;
}

function readOptions() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: Object.fromEntries(Object.entries(optionSpec).map(([name, spec]) => [name, { type: spec.type }])) as Record<OptionName, { type: 'string' | 'boolean' }>,
    strict: true,
    allowPositionals: false,
  });
  const raw = (name: OptionName): string | boolean | undefined => values[name] ?? process.env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
  const flag = (name: OptionName): boolean => {
    const v = raw(name);
    return v === true || v === '1' || v === 'true';
  };
  const quick = flag('quick');
  const int = (name: OptionName, full: number, quickValue = full): number => {
    const v = raw(name);
    if (v === undefined || v === true || v === false) return quick ? quickValue : full;
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
    help: flag('help'),
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
    out: String(raw('out') ?? 'bench/results/latest.md'),
    profileCatchup: raw('profile-catchup') === undefined ? undefined : String(raw('profile-catchup')),
  };
}

type Options = ReturnType<typeof readOptions>;

/** Machine load and this process's event-loop delay per phase: how much the figures competed for CPU. */
type LoadByPhase = Record<string, { before: number; after: number; loopDelayP50Ms: number; loopDelayP99Ms: number; loopDelayMaxMs: number }>;

interface Environment {
  startedAt: string;
  host: string;
  node: string;
  postgres: string;
  nats: string;
  services: string;
}

async function main(): Promise<void> {
  const opts = readOptions();
  if (opts.help) {
    console.log(usage());
    return;
  }
  const log = createLogger('bench', process.env.LOG_LEVEL ?? 'silent');
  const say = (line: string): void => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
  const cleanup = new Cleanup();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    say(`${signal}: cleaning up (again to force)`);
    void cleanup.runAll(say).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const t0 = performance.now();
  const services = await findServices(log);
  cleanup.add('services', () => services.stop());
  try {
    say(`services: NATS ${services.natsUrl}${services.embedded.nats ? ' (embedded)' : ''}, Postgres ${redact(services.databaseUrl)}${services.embedded.postgres ? ' (embedded)' : ''}`);
    const client = await connect({ servers: services.natsUrl });
    cleanup.add('nats connection', () => client.close());
    const env: Environment = {
      startedAt: new Date().toISOString(),
      host: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.platform()} ${os.release()}`,
      node: process.version,
      postgres: await withClient(services.databaseUrl, async (c) => {
        const settings = await c.query<{ name: string; setting: string; unit: string | null }>(
          "SELECT name, setting, unit FROM pg_settings WHERE name IN ('server_version', 'shared_buffers', 'max_parallel_workers_per_gather', 'work_mem')");
        const by = new Map(settings.rows.map((r) => [r.name, r]));
        const mem = (name: string): string => {
          const r = by.get(name);
          if (!r) return '?';
          const bytes = Number(r.setting) * (r.unit === '8kB' ? 8192 : r.unit === 'kB' ? 1024 : 1);
          return `${Math.round(bytes / 2 ** 20)} MB`;
        };
        return `${by.get('server_version')?.setting ?? '?'} (shared_buffers ${mem('shared_buffers')}, work_mem ${mem('work_mem')}, parallel workers/gather ${by.get('max_parallel_workers_per_gather')?.setting ?? '?'})`;
      }),
      nats: `nats-server ${client.info?.version ?? '?'}`,
      services: `NATS ${services.embedded.nats ? 'embedded' : services.natsUrl}, Postgres ${services.embedded.postgres ? 'embedded' : new URL(services.databaseUrl).host}`,
    };
    const ctx = { serverUrl: services.databaseUrl, natsUrl: services.natsUrl, nc: client, log, cleanup, say };

    const load: LoadByPhase = {};
    const phase = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
      const before = os.loadavg()[0] ?? 0;
      const loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      try {
        return await run();
      } finally {
        loopDelay.disable();
        load[name] = { before, after: os.loadavg()[0] ?? 0, loopDelayP50Ms: loopDelay.percentile(50) / 1e6, loopDelayP99Ms: loopDelay.percentile(99) / 1e6, loopDelayMaxMs: loopDelay.max / 1e6 };
      }
    };
    const throughput = opts.phases.has('throughput')
      ? await phase('throughput', () => runThroughput(ctx, { backlogEvents: opts.backlogEvents, users: 5_000, currencies: benchCurrencies.slice(0, 5), graceMs: opts.catchupGraceMs, ...(opts.profileCatchup ? { profilePath: opts.profileCatchup } : {}) }))
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

    const runMs = performance.now() - t0;
    const report = renderReport({ env, opts, throughput, latency, seal, runMs, load });
    console.log(report);
    await mkdir(path.dirname(opts.out), { recursive: true });
    await writeFile(opts.out, `${report}\n`);
    await writeFile(opts.out.replace(/\.md$/, '') + '.json', `${JSON.stringify({ env, opts: { ...opts, phases: [...opts.phases] }, throughput, latency, seal, runMs, load }, jsonReplacer, 2)}\n`);
    say(`report written to ${opts.out}`);
  } finally {
    say('cleaning up: databases dropped, namespace streams deleted');
    await cleanup.runAll(say);
  }
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

// ─── the report ──────────────────────────────────────────────────────────────

function renderReport(r: { env: Environment; opts: Options; throughput: ThroughputResult | null; latency: LatencyResult | null; seal: SealSizeResult[] | null; runMs: number; load: LoadByPhase }): string {
  const { env, opts, throughput: tp, latency: lat, seal } = r;
  const out: string[] = [];
  out.push(`# me_db bench — ${env.startedAt.slice(0, 19).replace('T', ' ')} UTC${opts.quick ? ' (--quick)' : ''}`);
  out.push('');
  out.push(`Host: ${env.host}; Node ${env.node}; PostgreSQL ${env.postgres}; ${env.nats}; services: ${env.services}. ` +
    `Everything (simulator, reconciler, bench) runs in one Node process; the run took ${(r.runMs / 1000).toFixed(0)} s. ` +
    `1-min load average before → after each phase (${os.cpus().length} cores; above that, other work competed) and this process's event-loop delay p99: ` +
    `${Object.entries(r.load).map(([name, l]) => `${name} ${l.before.toFixed(1)} → ${l.after.toFixed(1)}, loop p99 ${fmtMs(l.loopDelayP99Ms)}`).join('; ')}.`);
  out.push('');

  const rows: string[][] = [];
  const latencies = lat ? lat.samples.filter((s) => s.alertedAtMs !== null).map((s) => (s.alertedAtMs as number) - s.writtenAtMs) : [];
  const sealBySize = seal ?? [];
  const smallest = sealBySize[0];
  const largest = sealBySize.at(-1);

  if (tp) {
    const oursRate = (tp.events + tp.ledgerRows) / (tp.oursMs / 1000);
    const ceilingRate = (tp.events + tp.ledgerRows) / ((tp.ceilingEngineMs + tp.ceilingLedgerMs) / 1000);
    rows.push([`catch-up throughput, ${fmtInt(tp.events)} events + ${fmtInt(tp.ledgerRows)} rows`, `${fmtInt(oursRate)} /s`, `I/O + parse ceiling ${fmtInt(ceilingRate)} /s`, `${fmtRatio(oursRate / ceilingRate)} (share of the ceiling)`]);
    rows.push([`time to reconcile that backlog`, fmtMs(tp.oursMs), `full scan ${fmtMs(tp.baseline.totalMs)}`, fmtRatio(tp.baseline.totalMs / tp.oursMs)]);
  }
  if (lat && latencies.length > 0) {
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    const cronFloor = (ms: number): number => 1.5 * ms; // back-to-back scans: a fault waits half a scan on average, then one whole scan
    const refs = sealBySize.map((s) => `${fmtRows(s.targetRows)}: ${fmtMs(cronFloor(s.baselineMedianMs))}`).join(', ');
    const refMs = largest ? cronFloor(largest.baselineMedianMs) : Number.NaN;
    rows.push([`break-detection latency p50 (grace ${lat.graceMs} ms${lat.unexpectedAlerts.length > 0 ? `; ${lat.unexpectedAlerts.length} false alarms` : ', no false alarm'})`, `${fmtMs(p50)} (${fmtMs(p50 - lat.graceMs)} after grace)`, refs ? `back-to-back full scan, mean ≈ 1.5 × scan: ${refs}` : 'n/a', largest ? `${fmtRatio(refMs / p50)} (vs ${fmtRows(largest.targetRows)})` : 'n/a']);
    rows.push([`break-detection latency p99`, `${fmtMs(p99)} (${fmtMs(p99 - lat.graceMs)} after grace)`, largest ? `worst case 2 × scan at ${fmtRows(largest.targetRows)}: ${fmtMs(2 * largest.baselineMedianMs)}` : 'n/a', largest ? `${fmtRatio((2 * largest.baselineMedianMs) / p99)} (vs ${fmtRows(largest.targetRows)})` : 'n/a']);
  }
  for (const s of sealBySize) {
    rows.push([`seal at ${fmtRows(s.targetRows)} rows of history (a day's changes pending)`, fmtMs(s.sealPendingMedianMs), `full scan ${fmtMs(s.baselineMedianMs)} (its SQL ${fmtMs(s.baselineSqlMedianMs)})`, fmtRatio(s.baselineMedianMs / s.sealPendingMedianMs)]);
  }
  if (smallest && largest && smallest !== largest) {
    const historyGrowth = largest.rowsAtCut / smallest.rowsAtCut;
    rows.push([`growth ${fmtRows(smallest.targetRows)} → ${fmtRows(largest.targetRows)} (history ×${historyGrowth.toFixed(1)})`, `seal ×${(largest.sealPendingMedianMs / smallest.sealPendingMedianMs).toFixed(2)}`, `full scan ×${(largest.baselineMedianMs / smallest.baselineMedianMs).toFixed(2)} (its SQL ×${(largest.baselineSqlMedianMs / smallest.baselineSqlMedianMs).toFixed(2)})`, '']);
  }
  out.push('## Summary: ours against the baseline, same run');
  out.push('');
  out.push(table(['measure', 'ours (me_db reconciler)', 'baseline', 'ratio (baseline ÷ ours for times; >1: ours better)'], rows));
  out.push('');

  if (tp) {
    out.push('## 1. Delta throughput (catch-up on a backlog)');
    out.push('');
    out.push(`The simulator wrote ${fmtInt(tp.events)} engine events and ${fmtInt(tp.ledgerRows)} ledger rows (5,000 users × 5 currencies) in ${fmtMs(tp.generateMs)} with no reconciler running; then a fresh reconciler ` +
      `(no checkpoint, no snapshot: the stream from its first event, the ledger from its first row; grace ${tp.graceMs} ms) was timed from start() until both watermarks reached the end.`);
    out.push('');
    out.push(table(['', 'time', 'events + rows /s'], [
      ['reconciler: start() → both watermarks at the end', fmtMs(tp.oursMs), fmtInt((tp.events + tp.ledgerRows) / (tp.oursMs / 1000))],
      ['  of which start() (restore, consumer, snapshot attempt)', fmtMs(tp.startMs), ''],
      ['  engine side at the end after', fmtMs(tp.engineDoneMs), `${fmtInt(tp.events / (tp.engineDoneMs / 1000))} events/s`],
      ['  ledger side at the end after', fmtMs(tp.ledgerDoneMs), `${fmtInt(tp.ledgerRows / (tp.ledgerDoneMs / 1000))} rows/s`],
      ['ceiling: ordered consumer + contract parse, events', fmtMs(tp.ceilingEngineMs), `${fmtInt(tp.events / (tp.ceilingEngineMs / 1000))} events/s`],
      ['ceiling: readLedgerBatch from the start, rows', fmtMs(tp.ceilingLedgerMs), `${fmtInt(tp.ledgerRows / (tp.ceilingLedgerMs / 1000))} rows/s`],
      ['baseline full scan of the same ledger (SQL, then snapshot, then compare)', `${fmtMs(tp.baseline.totalMs)} (SQL ${fmtMs(tp.baseline.sqlMs)}, snapshot ${fmtMs(tp.baseline.snapshotMs)}, compare ${fmtMs(tp.baseline.compareMs)})`, `${fmtInt(tp.ledgerRows / (tp.baseline.totalMs / 1000))} rows/s`],
    ]));
    out.push('');
    out.push(`Alerts raised while catching up: ${tp.alertsDuringCatchup} (open after catch-up: ${tp.openBreaksAfter}).`);
    out.push('');
  }

  if (lat) {
    const ok = lat.samples.filter((s) => s.alertedAtMs !== null);
    const row = (label: string, sample: readonly number[]): string[] => sample.length === 0
      ? [label, '0', '', '', '', '', '']
      : [label, String(sample.length), fmtMs(percentile(sample, 50)), fmtMs(percentile(sample, 90)), fmtMs(percentile(sample, 99)), fmtMs(Math.max(...sample)), `${fmtMs(percentile(sample, 50) - lat.graceMs)} / ${fmtMs(percentile(sample, 99) - lat.graceMs)}`];
    const of = (kind: string): number[] => ok.filter((s) => s.kind === kind).map((s) => (s.alertedAtMs as number) - s.writtenAtMs);
    out.push('## 2. Break-detection latency');
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
    out.push('## 3. Seal against the full scan, by ledger history');
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

  out.push('## Options');
  out.push('');
  out.push('`' + JSON.stringify({ ...opts, phases: [...opts.phases] }) + '`');
  return out.join('\n');
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

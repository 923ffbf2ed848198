/**
 * `npm run bench` — every bench suite in one run, one table of figures each beside its baseline.
 *
 *   npm run bench                                   # every suite, full sizes (< 15 min on 2 cores)
 *   npm run bench -- --quick                        # every suite, small sizes (< 3 min)
 *   npm run bench -- --quick --suite transitions    # some suites (comma-separated or repeated)
 *   npm run bench -- --help
 *
 * Suites are registered in bench/suites.ts. Each makes its own scratch databases and NATS
 * namespaces and removes them, on an error and on Ctrl-C too. The report goes to stdout and
 * bench/results/latest.md; the figures, machine, versions and settings to
 * bench/results/<time>.json and latest.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { installQuietRequestSettle } from '../src/nats/quiet-request-settle.js';
import { createLogger } from '../src/observability/logger.js';
import { limits } from '../src/config/limits.js';
import type { Figure, SuiteResult } from './suite.js';
import { suites } from './suites.js';
import { Cleanup, findServices, fmtRatio, withClient } from './support.js';

interface Machine { cpus: number; cpuModel: string; memoryGiB: number; platform: string }
interface Versions { node: string; natsServer: string; postgres: string }

interface SuiteRun {
  name: string;
  description: string;
  ms: number;
  loadBefore: number;
  loadAfter: number;
  result: SuiteResult | null;
  error: string | null;
}

const usage = `usage: npm run bench -- [--quick] [--suite <name>[,<name>…]] [--out-dir <dir>]
  --quick        small sizes (< 3 min in all)
  --suite        suites to run (default all): ${suites.map((s) => s.name).join(', ')}
  --out-dir      where the JSON and markdown go (bench/results)
suites:
${suites.map((s) => `  ${s.name.padEnd(12)} ${s.description}`).join('\n')}
Suite sizes are env vars (BENCH_TRANSITIONS_ACCOUNTS, BENCH_MEMORY_ACCOUNTS, BENCH_SIZES, …: see each suite's file).
BENCH_PROFILE_DIR=<dir> writes CPU profiles of the engine runs there.`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { quick: { type: 'boolean', default: false }, suite: { type: 'string', multiple: true }, 'out-dir': { type: 'string' }, help: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const quick = values.quick === true || process.env.BENCH_QUICK === '1';
  const wanted = (values.suite ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const name of wanted) if (!suites.some((s) => s.name === name)) throw new RangeError(`--suite: unknown suite "${name}" (have ${suites.map((s) => s.name).join(', ')})`);
  const selected = wanted.length === 0 ? suites : suites.filter((s) => wanted.includes(s.name));
  const outDir = values['out-dir'] ?? 'bench/results';

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

  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const services = await findServices(log);
  cleanup.add('services', () => services.stop());
  const runs: SuiteRun[] = [];
  try {
    // The load generator shares the box with both sides: it takes the engine's cheap client settings (ADR 0032).
    installQuietRequestSettle();
    const nc = await connect({ servers: services.natsUrl, name: 'bench', noAsyncTraces: true });
    cleanup.add('nats connection', () => nc.close());
    const machine: Machine = {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model.trim() ?? 'cpu',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      platform: `${os.platform()} ${os.release()}`,
    };
    const postgres = await withClient(services.databaseUrl, async (c) => {
      const rows = await c.query<{ name: string; setting: string; unit: string | null }>(
        "SELECT name, setting, unit FROM pg_settings WHERE name IN ('server_version', 'shared_buffers', 'synchronous_commit', 'max_connections')");
      return Object.fromEntries(rows.rows.map((r) => [r.name, `${r.setting}${r.unit ? ` × ${r.unit}` : ''}`]));
    });
    const versions: Versions = { node: process.version, natsServer: nc.info?.version ?? '?', postgres: postgres.server_version ?? '?' };
    const settings = {
      quick,
      suites: selected.map((s) => s.name),
      services: `NATS ${services.embedded.nats ? 'embedded' : services.natsUrl}, Postgres ${services.embedded.postgres ? 'embedded' : new URL(services.databaseUrl).host}`,
      postgres,
      engineLimits: limits,
    };
    say(`machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB; node ${versions.node}, nats-server ${versions.natsServer}, postgres ${versions.postgres}; ${quick ? 'quick' : 'full'} run of ${settings.suites.join(', ')}`);

    for (const suite of selected) {
      const loadBefore = os.loadavg()[0] ?? 0;
      const s0 = performance.now();
      say(`suite ${suite.name}: ${suite.description}`);
      let result: SuiteResult | null = null;
      let error: string | null = null;
      try {
        result = await suite.run({ serverUrl: services.databaseUrl, natsUrl: services.natsUrl, nc, log, cleanup, say, quick });
      } catch (e) {
        error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
        say(`suite ${suite.name} failed: ${error}`);
      }
      runs.push({ name: suite.name, description: suite.description, ms: performance.now() - s0, loadBefore, loadAfter: os.loadavg()[0] ?? 0, result, error });
    }

    const runMs = performance.now() - t0;
    const report = renderReport({ startedAt, quick, machine, versions, runs, runMs });
    console.log(report);
    await mkdir(outDir, { recursive: true });
    const json = JSON.stringify({ startedAt, quick, runMs, machine, versions, settings, suites: runs }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
    const stamp = startedAt.replace(/[:.]/g, '-');
    await writeFile(path.join(outDir, `${stamp}-${quick ? 'quick' : 'full'}.json`), `${json}\n`);
    await writeFile(path.join(outDir, 'latest.json'), `${json}\n`);
    await writeFile(path.join(outDir, 'latest.md'), `${report}\n`);
    say(`report written to ${path.join(outDir, 'latest.md')} and ${path.join(outDir, `${stamp}-${quick ? 'quick' : 'full'}.json`)}`);
  } finally {
    say('cleaning up: scratch databases dropped, namespaces deleted');
    await cleanup.runAll(say);
  }
  return runs.some((r) => r.error) ? 1 : 0;
}

function renderReport(r: { startedAt: string; quick: boolean; machine: Machine; versions: Versions; runs: SuiteRun[]; runMs: number }): string {
  const out: string[] = [];
  out.push(`# Bench — ${r.startedAt.slice(0, 19).replace('T', ' ')} UTC, ${r.quick ? 'quick (--quick)' : 'full'} run, ${(r.runMs / 1000).toFixed(0)} s`);
  out.push('');
  out.push(`Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB RAM, ${r.machine.platform}. ` +
    `Node ${r.versions.node}, nats-server ${r.versions.natsServer}, PostgreSQL ${r.versions.postgres}. ` +
    `Load average (1 min) before → after each suite: ${r.runs.map((s) => `${s.name} ${s.loadBefore.toFixed(1)} → ${s.loadAfter.toFixed(1)} (${(s.ms / 1000).toFixed(0)} s)`).join('; ')}.`);
  out.push('');
  const rows: string[][] = [];
  for (const run of r.runs) {
    if (run.error) rows.push([run.name, 'FAILED', run.error.split('\n')[0] ?? '', '', '', '', '']);
    for (const f of run.result?.figures ?? []) rows.push(figureRow(run.name, f));
  }
  out.push(table(['suite', 'measure', 'ours', 'baseline (same run)', 'ratio', 'goal', 'met'], rows));
  out.push('');
  out.push('Ratio: > 1 means ours is better, except where the ratio column names its own meaning.');
  for (const run of r.runs) {
    for (const section of run.result?.details ?? []) {
      out.push('');
      out.push(section);
    }
  }
  return out.join('\n');
}

function figureRow(suite: string, f: Figure): string[] {
  const ratio = f.ratio === null ? 'n/a' : `${fmtRatio(f.ratio)}${f.ratioMeaning ? ` (${f.ratioMeaning})` : ''}`;
  return [suite, f.measure, f.ours, f.baseline, ratio, f.goal ?? '', f.met === undefined ? '' : f.met ? 'yes' : 'NO'];
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

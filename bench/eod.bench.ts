/**
 * The close as a bench suite: snapshot + Merkle-sum roots + the me_db seal at the cut + the
 * sealed report for N users × 3 currencies, beside a raw Postgres COPY of the same snapshot
 * rows in the same run. Exports `runEodBench` (the shape of a bench suite's run); run alone
 * with `npx tsx bench/eod.bench.ts [--quick]`. As a suite of bench/run.ts, one line in
 * bench/suites.ts: `{ name: 'eod', description: 'the close beside a raw COPY', run: (ctx) => runEodBench(ctx) }`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { loadSettings } from '../src/config/settings.js';
import { createPool } from '../src/db/pool.js';
import { createScratchDatabase } from '../src/db/scratch-database.js';
import { findLocalServices } from '../src/embedded/local-services.js';
import { resolveServices } from '../src/embedded/services.js';
import { businessWindow } from '../src/eod/business-date.js';
import { EodService } from '../src/eod/close-service.js';
import { natsNames } from '../src/nats/names.js';
import { ensureAccountTopology, removeTopology } from '../src/nats/topology.js';
import { createLogger, type Logger } from '../src/observability/logger.js';
import { claimFence } from '../src/supervisor/fence.js';

export interface EodBenchOptions {
  serverUrl: string;
  natsUrl: string;
  log: Logger;
  quick?: boolean;
  say?(line: string): void;
}

export interface EodBenchFigure {
  measure: string;
  ours: string;
  baseline: string;
  ratio: number | null;
  ratioMeaning?: string;
}

export interface EodBenchResult {
  figures: EodBenchFigure[];
  details: string[];
  raw: unknown;
  settings: Record<string, unknown>;
}

const currencies = ['BTC', 'ETH', 'USDT'] as const;
const date = '2026-06-01';

export async function runEodBench(options: EodBenchOptions): Promise<EodBenchResult> {
  const users = options.quick ? 10_000 : 100_000;
  const say = options.say ?? (() => undefined);
  const database = await createScratchDatabase(options.serverUrl, 'recon_bench_eod', options.log);
  const pool = createPool(database.url, 8);
  const nc = await connect({ servers: options.natsUrl });
  const names = natsNames(`b${randomBytes(4).toString('hex')}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'recon-bench-eod-'));
  try {
    const w = businessWindow(date, { time: '00:00', zone: 'UTC' });
    const spanSec = Math.floor((w.endMs - w.startMs) / 1000) - 2;
    say(`eod: seeding ${users} users × ${currencies.length} currencies`);
    // The day's activity, written server-side: one deposit per (user, currency), both legs, and its engine event.
    await pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
       SELECT 'j' || g || c, a, c, amt, 'deposit', 'j' || g || c, t FROM (
         SELECT g, c, 'u' || lpad(g::text, 6, '0') AS a, ((g % 100000) + 1)::numeric / 1000 AS amt, $1::timestamptz + ((g % $2) || ' seconds')::interval AS t
           FROM generate_series(1, $3::int) g, unnest($4::text[]) c) x
       UNION ALL
       SELECT 'j' || g || c, 'house:custody', c, -amt, 'deposit', 'j' || g || c, t FROM (
         SELECT g, c, ((g % 100000) + 1)::numeric / 1000 AS amt, $1::timestamptz + ((g % $2) || ' seconds')::interval AS t
           FROM generate_series(1, $3::int) g, unnest($4::text[]) c) y`,
      [new Date(w.startMs + 1_000).toISOString(), spanSec, users, [...currencies]]);
    await pool.query(
      `INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts)
       SELECT row_number() OVER (ORDER BY t, a, c), a, c, amt, 0, amt, t FROM (
         SELECT c, 'u' || lpad(g::text, 6, '0') AS a, ((g % 100000) + 1)::numeric / 1000 AS amt, $1::timestamptz + ((g % $2) || ' seconds')::interval AS t
           FROM generate_series(1, $3::int) g, unnest($4::text[]) c) x`,
      [new Date(w.startMs + 1_000).toISOString(), spanSec, users, [...currencies]]);
    await pool.query(
      "INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts) VALUES ($1, 'u000001', 'BTC', 0.002, 0, 0.002, $2)",
      [users * currencies.length + 1, new Date(w.endMs + 1_000).toISOString()]);
    await pool.query('ANALYZE');

    const fence = { lease: 'bench-eod', token: 1, holder: 'bench' };
    await claimFence(pool, fence);
    const settings = loadSettings({}, { NAMESPACE: names.namespace, EOD_SCHEDULER: 'off', EOD_REPORTS_DIR: path.join(dir, 'reports'), LOG_LEVEL: 'silent' });
    const { jsm } = await ensureAccountTopology(nc, names);
    const stepLog = createLogger('bench-eod', process.env.BENCH_EOD_LOG ?? 'silent');
    const eod = await EodService.start({ nc, js: jetstream(nc), jsm, pool, names, log: stepLog, settings, fence: () => fence });
    say('eod: closing the day');
    const startedMs = performance.now();
    const state = await eod.run(date);
    const closeMs = performance.now() - startedMs;
    await eod.stop();
    if (state.status !== 'sealed') throw new Error(`the bench close did not seal: ${JSON.stringify(state.steps.filter((s) => s.error))}`);
    const stepMs = Object.fromEntries(state.steps.filter((s) => s.startedAt && s.endedAt).map((s) => [s.name, Date.parse(s.endedAt as string) - Date.parse(s.startedAt as string)]));
    const rows = Number((await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM user_balance_snapshots')).rows[0]?.n);

    say('eod: COPY of the same rows');
    const copyMs = await copyBaseline(database.url, pool);
    const ratio = copyMs === null ? null : Math.round((closeMs / copyMs) * 100) / 100;
    return {
      figures: [{
        measure: `EOD close (snapshot + ${currencies.length} roots + me_db seal + report), ${users.toLocaleString('en')} users × ${currencies.length}`,
        ours: `${Math.round(closeMs)} ms`,
        baseline: copyMs === null ? 'psql not found' : `COPY of the ${rows.toLocaleString('en')} snapshot rows: ${Math.round(copyMs)} ms`,
        ratio,
        ratioMeaning: 'close ÷ COPY (how many COPYs of its output the whole close costs; lower is better)',
      }],
      details: [`### EOD close\n\nsteps (ms): ${Object.entries(stepMs).map(([k, v]) => `${k} ${v}`).join(', ')}; rows ${rows}; the custody and chain seals are skipped (not configured in the bench).`],
      raw: { users, currencies, closeMs, copyMs, stepMs, rows },
      settings: { users, currencies: currencies.length },
    };
  } finally {
    await removeTopology(nc, names).catch(() => undefined);
    await nc.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await database.drop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/** The same snapshot rows as CSV through `psql \copy … FROM STDIN`, timed from the first byte to psql's exit; null without psql. */
async function copyBaseline(databaseUrl: string, pool: ReturnType<typeof createPool>): Promise<number | null> {
  await pool.query('CREATE TABLE copy_baseline (LIKE user_balance_snapshots INCLUDING ALL)');
  const rows = await pool.query<{ line: string }>(
    `SELECT concat_ws(',', business_date, user_id, currency, total, locked, available, engine_seq, '\\x' || encode(salt, 'hex')) AS line FROM user_balance_snapshots`);
  const csv = `${rows.rows.map((r) => r.line).join('\n')}\n`;
  return new Promise((resolve) => {
    const startedMs = performance.now();
    const child = spawn('psql', [databaseUrl, '-q', '-v', 'ON_ERROR_STOP=1', '-c', '\\copy copy_baseline FROM STDIN WITH (FORMAT csv)'], { stdio: ['pipe', 'ignore', 'pipe'] });
    child.on('error', () => resolve(null));
    child.on('exit', (code) => resolve(code === 0 ? performance.now() - startedMs : null));
    child.stdin.end(csv);
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const log = createLogger('bench', 'warn');
  const found = await findLocalServices({ probeLocal: true, log });
  const services = await resolveServices({ ...found, log });
  try {
    const result = await runEodBench({ serverUrl: services.databaseUrl, natsUrl: services.natsUrl, log, quick: process.argv.includes('--quick'), say: (l) => process.stderr.write(`${l}\n`) });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await services.stop();
  }
}

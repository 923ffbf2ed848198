import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { businessWindow } from '../../src/eod/business-date.js';
import { loadOrCreateSigningKey } from '../../src/eod/report/index.js';
import { natsNames } from '../../src/nats/names.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';
import { depositsDuring, ExchangeFixture } from './exchange-fixture.js';

/**
 * Three engine processes on one NATS and one database (docs/contract.md §9): the close runs once,
 * a killed leader's run is finished by another, and a paused leader writes nothing after it wakes.
 */
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const cutover = { time: '00:00', zone: 'UTC' };
const dates = ['2026-09-01', '2026-09-02', '2026-09-03'] as const;
const windows = dates.map((d) => businessWindow(d, cutover));
const users = Array.from({ length: 40 }, (_, i) => `mi${String(i).padStart(3, '0')}`);
const stepDelayMs = 1_200;
const leaseTtlMs = 3_000;

const names = natsNames(testNamespace());
let db: TestDatabase;
let pool: Pool;
let nc: NatsConnection;
let dir: string;
interface Instance { child: ChildProcess; output: string; exited: boolean }
const instances: Instance[] = [];

function startInstance(): Instance {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: projectRoot,
    env: {
      ...process.env,
      NATS_URL: sharedNatsUrl(), DATABASE_URL: db.url, NAMESPACE: names.namespace, COMMAND_PARTITIONS: '2', LOG_LEVEL: 'info',
      LEASE_TTL_MS: String(leaseTtlMs), EOD_SCHEDULER: 'off', EOD_STEP_DELAY_MS: String(stepDelayMs),
      EOD_SIGNING_KEY_FILE: path.join(dir, 'key.pem'), EOD_REPORTS_DIR: path.join(dir, 'reports'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const instance: Instance = { child, output: '', exited: false };
  const keep = (chunk: Buffer) => (instance.output = (instance.output + chunk.toString()).slice(-200_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', () => (instance.exited = true));
  instances.push(instance);
  return instance;
}

async function admin(relative: string, body: unknown): Promise<Record<string, unknown>> {
  const timeout = relative === 'eod.run' ? 90_000 : 15_000;
  return (await nc.request(`${names.adminPrefix}.${relative}`, JSON.stringify(body), { timeout })).json();
}

/** The instance that started the close of `date` (its log says so). */
function runnerOf(date: string): Instance | undefined {
  return instances.find((i) => !i.exited && i.output.includes(`"event":"eod.run.started","date":"${date}"`));
}

/** The eod_runs rows last written under fence `token`. */
async function rowsUnder(date: string, token: number): Promise<Array<{ step: string; status: string; ended_at: Date | null }>> {
  return (await pool.query<{ step: string; status: string; ended_at: Date | null }>(
    "SELECT step, status, ended_at FROM eod_runs WHERE business_date = $1 AND fence_token = $2 AND status <> 'skipped' ORDER BY step", [date, token])).rows;
}

async function sealedEvents(): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(names.eodStream, { subjects_filter: names.eodSealedSubject });
  return info.state.subjects?.[names.eodSealedSubject] ?? 0;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'recon-eod-multi-'));
  loadOrCreateSigningKey(path.join(dir, 'key.pem'));
  db = await createTestDatabase();
  pool = createPool(db.url, 4);
  nc = await connect({ servers: sharedNatsUrl() });
  for (let i = 0; i < 3; i++) startInstance();
  await until('a leader', async () => instances.some((i) => i.output.includes('"event":"leader.elected"')), 60_000);
  const fx = new ExchangeFixture(pool, nc, names);
  await fx.apply(windows.flatMap((w, i) => depositsDuring(users, ['BTC', 'ETH'], w.startMs, w.endMs, i + 1)));
  await until('the engine history recorded', () => fx.recorded(), 60_000);
}, 120_000);

afterAll(async () => {
  for (const i of instances) if (!i.exited) i.child.kill('SIGKILL');
  await deleteNamespaceStreams(nc, names);
  await nc.close();
  await pool.end();
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

describe('the close across three instances', () => {
  it('admin.eod.run sent to all three at once runs the close once', async () => {
    const answers = await Promise.all([0, 1, 2].map(() => admin('eod.run', { date: dates[0] })));
    for (const a of answers) expect(a, JSON.stringify(a)).toMatchObject({ date: dates[0], status: 'sealed' });
    const rows = await pool.query<{ step: string; attempts: number }>('SELECT step, attempts FROM eod_runs WHERE business_date = $1', [dates[0]]);
    expect(rows.rowCount).toBe(11);
    expect(rows.rows.filter((r) => r.attempts > 1)).toEqual([]);
    await until('eod.sealed stored', async () => (await sealedEvents()) >= 1);
    expect(await sealedEvents()).toBe(1);
    expect(instances.filter((i) => i.output.includes(`"event":"eod.run.started","date":"${dates[0]}"`))).toHaveLength(1);
  }, 90_000);

  it('SIGKILL of the leader in the middle of a step: another instance finishes, and the report is the one a run with no kill seals', async () => {
    const date = dates[1];
    // Its answer may never come (the instance that held it is killed): not awaited.
    void admin('eod.run', { date }).catch(() => null);
    await until('a step running', async () => (await pool.query("SELECT 1 FROM eod_runs WHERE business_date = $1 AND status = 'running'", [date])).rowCount, 30_000);
    const leader = runnerOf(date);
    expect(leader).toBeDefined();
    const running = (await pool.query<{ step: string }>("SELECT step FROM eod_runs WHERE business_date = $1 AND status = 'running'", [date])).rows[0]?.step;
    leader!.child.kill('SIGKILL');
    const status = await until('sealed by another instance', async () => {
      const s = await admin('eod.status', { date }).catch(() => null);
      return s?.status === 'sealed' ? s : null;
    }, 60_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${instances.map((i) => i.output.split('\n').filter((l) => /eod|leader|error/i.test(l)).slice(-15).join('\n')).join('\n---\n')}`);
    });
    const steps = status.steps as Array<{ name: string; attempts: number }>;
    // The step it was killed in was done again, by the new leader.
    expect(steps.find((s) => s.name === running)?.attempts).toBe(2);
    const killed = (await admin('eod.report', { date })) as { sha256: string };
    // The status reads sealed once the report row commits; the run then publishes it (object store,
    // files, eod.sealed) and only then ends. Wait for that, or the re-run below would join it.
    await until('the report published', async () => (await pool.query(
      'SELECT 1 FROM eod_reports WHERE business_date = $1 AND published_at IS NOT NULL', [date])).rowCount, 30_000);
    await until('the report written by the instance that finished the run', async () => instances.some((i) => !i.exited && i.output.includes(`"event":"eod.report.written","date":"${date}"`)), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the run's last status read, after that line
    // The same day closed again from scratch, with no kill: the same bytes.
    for (const table of ['eod_reports', 'eod_sealed_days', 'eod_runs', 'user_balance_snapshots', 'eod_ledger_balances', 'proof_of_reserves']) {
      await pool.query(`DELETE FROM ${table} WHERE business_date = $1`, [date]);
    }
    expect(await admin('eod.run', { date })).toMatchObject({ status: 'sealed' });
    expect(((await admin('eod.report', { date })) as { sha256: string }).sha256).toBe(killed.sha256);
  }, 120_000);

  it('a paused leader (SIGSTOP past its lease, SIGCONT) writes nothing after it wakes: the fence refuses it', async () => {
    const date = dates[2];
    startInstance();
    const asked = admin('eod.run', { date }).catch(() => null);
    await until('a step running', async () => (await pool.query("SELECT 1 FROM eod_runs WHERE business_date = $1 AND status = 'running'", [date])).rowCount, 30_000);
    const paused = runnerOf(date)!;
    const token = Number((await pool.query<{ fence_token: string }>('SELECT fence_token FROM eod_runs WHERE business_date = $1 AND status = $2', [date, 'running'])).rows[0]?.fence_token);
    paused.child.kill('SIGSTOP');
    const byPausedAtPause = await rowsUnder(date, token);
    // Another instance is elected, claims a newer fence and takes the run over.
    await until('a newer fence claimed', async () => {
      const r = await pool.query<{ token: string }>("SELECT token FROM lease_fences WHERE lease = 'leader'");
      return Number(r.rows[0]?.token) > token;
    }, 30_000);
    await until('the run taken over', async () => (await pool.query(
      "SELECT 1 FROM eod_runs WHERE business_date = $1 AND status = 'running' AND fence_token > $2", [date, token])).rowCount, 30_000);
    paused.child.kill('SIGCONT');
    await until('the woken leader refused by the fence', async () => paused.output.includes('"event":"eod.fenced"'), 30_000);
    await asked;
    const status = await until('sealed', async () => {
      const s = await admin('eod.status', { date }).catch(() => null);
      return s?.status === 'sealed' ? s : null;
    }, 60_000);
    expect(status.status).toBe('sealed');
    // Whatever the paused leader had finished before it was stopped stays as it was; nothing after it woke.
    expect(await rowsUnder(date, token)).toEqual(byPausedAtPause.filter((r) => r.status !== 'running'));
    // eod.sealed is published after the report is stored (published_at), a moment after the status reads sealed.
    await until('the third eod.sealed stored', async () => (await sealedEvents()) >= 3);
    expect(await sealedEvents()).toBe(3);
  }, 120_000);
});

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountEventSchema, type AccountEvent } from '../../src/actors/account-event.js';
import { accountRecordSchema, verifyChain } from '../../src/actors/account-record.js';
import type { AccountCommand } from '../../src/actors/account-command.js';
import { accountHistory } from '../../src/actors/audit-log.js';
import { partitionOf } from '../../src/actors/partition.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import type { AccountState, Authority } from '../../src/fsm/index.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { createTestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';

/**
 * The batched command path (ADR 0019) through two SIGKILLs. The whole backlog is queued before
 * the engine starts, so every group-commit statement carries many actors' rows and the kills
 * land while statements are in flight. One command in ten is sent a second time with the same
 * commandId and no Nats-Msg-Id (so the server does not drop it): the engine must answer it from
 * the audit table, often from inside the same batch as the first copy.
 */
const accountsCount = 1_000;
const partitions = 8;
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

const plan: Array<{ target: AccountState; authority: Authority; reasonCode: string }> = [
  { target: 'pending_kyc', authority: 'self', reasonCode: 'signup' },
  { target: 'kyc_approved', authority: 'system', reasonCode: 'kyc_pass' },
  { target: 'active', authority: 'system', reasonCode: 'first_deposit' },
  { target: 'suspended', authority: 'admin', reasonCode: 'dispute' },
  { target: 'active', authority: 'admin', reasonCode: 'dispute_closed' },
];
const transitionsTotal = accountsCount * plan.length;
const userIdOf = (i: number): string => `b${String(i).padStart(4, '0')}`;
const repeated = (i: number, step: number): boolean => (i * plan.length + step) % 10 === 3;

let names: NatsNames;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let pool: Pool;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let engine: ChildProcess | null = null;
let engineOutput = '';

function startEngineProcess(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: projectRoot,
    env: {
      ...process.env,
      NATS_URL: sharedNatsUrl(),
      DATABASE_URL: database.url,
      NAMESPACE: names.namespace,
      COMMAND_PARTITIONS: String(partitions),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (engineOutput = (engineOutput + chunk.toString()).slice(-4_000)));
  child.stderr?.on('data', (chunk: Buffer) => (engineOutput = (engineOutput + chunk.toString()).slice(-4_000)));
  return child;
}

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number, pollMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; engine output:\n${engineOutput}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

const auditCount = async (): Promise<number> =>
  (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM account_state_transitions')).rows[0]?.n ?? 0;

const transactionsCommitted = async (): Promise<number> =>
  Number((await pool.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1', [database.name])).rows[0]?.n ?? 0);

async function killEngine(signal: NodeJS.Signals): Promise<void> {
  const child = engine;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
  engine = null;
}

/** Round by round; a repeated command follows its first copy at once (same commandId, no msgID). */
async function publishBacklog(): Promise<number> {
  let published = 0;
  let inFlight: Array<Promise<unknown>> = [];
  for (const [step, move] of plan.entries()) {
    for (let i = 0; i < accountsCount; i++) {
      const userId = userIdOf(i);
      const command: AccountCommand = {
        commandId: `batched-${userId}-${step}`,
        userId,
        kind: step === 0 ? 'create' : 'transition',
        target: move.target,
        authority: move.authority,
        reasonCode: move.reasonCode,
        actorId: 'batched-crash-test',
      };
      const subject = names.commandSubject(partitionOf(userId, partitions), userId);
      inFlight.push(js.publish(subject, JSON.stringify(command), { msgID: command.commandId }));
      published++;
      if (repeated(i, step)) {
        inFlight.push(js.publish(subject, JSON.stringify(command)));
        published++;
      }
      if (inFlight.length >= 500) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
  }
  await Promise.all(inFlight);
  return published;
}

async function readAllEvents(): Promise<AccountEvent[]> {
  const consumer = await js.consumers.get(names.eventStream, { deliver_policy: DeliverPolicy.All });
  const events: AccountEvent[] = [];
  let pending = (await consumer.info(true)).num_pending;
  while (pending > 0) {
    const batch = await consumer.fetch({ max_messages: 1_000, expires: 5_000 });
    for await (const msg of batch) {
      events.push(accountEventSchema.parse(msg.json()));
      pending = msg.info.pending;
    }
  }
  await consumer.delete().catch(() => undefined);
  return events;
}

beforeAll(async () => {
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  pool = createPool(database.url, 2);
  // The command stream exists before the engine does, so the backlog can be queued first.
  await jsm.streams.add({ name: names.commandStream, subjects: [names.commandSubjectAll], duplicate_window: 10 * 60 * 1e9 });
});

afterAll(async () => {
  await killEngine('SIGKILL');
  if (nc) await deleteNamespaceStreams(nc, names);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

describe('the batched command path through SIGKILL mid-batch', () => {
  it('two kills while group commits are in flight: nothing lost, nothing doubled, order kept', { timeout: 240_000 }, async () => {
    const published = await publishBacklog();
    expect(published).toBeGreaterThan(transitionsTotal);
    const txBefore = await transactionsCommitted();

    const killsAt: number[] = [];
    for (const share of [0.2, 0.6]) {
      engine = startEngineProcess();
      const reached = await waitFor(`${share * 100}% of the transitions`, async () => {
        const n = await auditCount();
        return n >= transitionsTotal * share ? n : null;
      }, 120_000, 10);
      await killEngine('SIGKILL');
      killsAt.push(reached);
    }
    expect(killsAt.every((n) => n < transitionsTotal)).toBe(true);

    engine = startEngineProcess();
    await waitFor('every transition', async () => (await auditCount()) === transitionsTotal, 120_000);
    await waitFor('consumers drained', async () => {
      for (let p = 0; p < partitions; p++) {
        const info = await jsm.consumers.info(names.commandStream, names.commandConsumer(p));
        if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
      }
      return true;
    }, 60_000);
    await killEngine('SIGTERM');
    const statementsPerTransition = ((await transactionsCommitted()) - txBefore) / transitionsTotal;
    console.info(`batched crash test: killed at ${killsAt.join(' and ')} of ${transitionsTotal} audit rows; ${statementsPerTransition.toFixed(2)} Postgres transactions per transition`);
    // The path did batch: before the group commit a transition cost about three statements.
    expect(statementsPerTransition).toBeLessThan(1);

    // Repeats were answered, not rejected or parked; nothing else was rejected.
    expect((await pool.query('SELECT count(*)::int AS n FROM account_command_rejections')).rows[0].n).toBe(0);
    expect((await pool.query('SELECT count(*)::int AS n FROM parked_commands')).rows[0].n).toBe(0);

    const accounts = await new Kvm(nc).open(names.accountsBucket);
    const events = await readAllEvents();
    expect(events).toHaveLength(transitionsTotal);
    expect(new Set(events.map((e) => e.transitionId)).size).toBe(transitionsTotal);
    const eventsByUser = new Map<string, AccountEvent[]>();
    for (const e of events) eventsByUser.set(e.userId, [...(eventsByUser.get(e.userId) ?? []), e]);

    for (let i = 0; i < accountsCount; i++) {
      const userId = userIdOf(i);
      const rows = await accountHistory(pool, userId);
      expect(rows.map((r) => r.to)).toEqual(plan.map((m) => m.target));
      expect(rows.map((r) => r.commandId)).toEqual(plan.map((_, step) => `batched-${userId}-${step}`));
      expect(verifyChain(rows)).toBeNull();

      const entry = await accounts.get(userId);
      const record = accountRecordSchema.parse(entry?.json());
      expect(record.state).toBe('active');
      expect(record.seq).toBe(plan.length);
      expect(record.last.transitionId).toBe(rows.at(-1)?.transitionId);
      expect(entry?.revision).toBe(rows.at(-1)?.kvRevision);

      expect((eventsByUser.get(userId) ?? []).map((e) => e.transitionId)).toEqual(rows.map((r) => r.transitionId));
    }
  });
});

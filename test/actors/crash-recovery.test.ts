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

const accountsCount = 1_000;
const partitions = 8;
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Ten allowed moves per account, ending in `suspended`: 1,000 accounts × 10 = 10,000 transitions. */
const plan: Array<{ target: AccountState; authority: Authority; reasonCode: string }> = [
  { target: 'pending_kyc', authority: 'self', reasonCode: 'signup' },
  { target: 'kyc_rejected', authority: 'system', reasonCode: 'kyc_fail' },
  { target: 'pending_kyc', authority: 'self', reasonCode: 'resubmit' },
  { target: 'kyc_approved', authority: 'admin', reasonCode: 'kyc_pass' },
  { target: 'active', authority: 'system', reasonCode: 'first_deposit' },
  { target: 'suspended', authority: 'system', reasonCode: 'dispute' },
  { target: 'active', authority: 'admin', reasonCode: 'dispute_closed' },
  { target: 'restricted', authority: 'admin', reasonCode: 'dormancy' },
  { target: 'active', authority: 'admin', reasonCode: 'restore' },
  { target: 'suspended', authority: 'admin', reasonCode: 'court_order_review' },
];
const transitionsTotal = accountsCount * plan.length;
const userIdOf = (i: number): string => `u${String(i).padStart(4, '0')}`;

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
      HTTP_LISTEN: '127.0.0.1:0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (engineOutput = (engineOutput + chunk.toString()).slice(-4_000)));
  child.stderr?.on('data', (chunk: Buffer) => (engineOutput = (engineOutput + chunk.toString()).slice(-4_000)));
  return child;
}

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; engine output:\n${engineOutput}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const auditCount = async (): Promise<number> =>
  (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM account_state_transitions')).rows[0]?.n ?? 0;

async function engineReady(): Promise<boolean> {
  await jsm.consumers.info(names.commandStream, names.commandConsumer(partitions - 1));
  const replies = await nc.requestMany('$SRV.INFO.recon-admin', '', { maxWait: 300 });
  for await (const msg of replies) {
    const info = msg.json<{ endpoints: Array<{ subject: string }> }>();
    if (info.endpoints.some((e) => e.subject === `${names.adminPrefix}.account.get`)) return true;
  }
  return false;
}

async function killEngine(signal: NodeJS.Signals): Promise<void> {
  const child = engine;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
  engine = null;
}

async function publishAll(): Promise<void> {
  // Round by round, so every account's commands are in stream order, interleaved with others'.
  const inFlightMax = 200;
  let inFlight: Array<Promise<unknown>> = [];
  for (const [step, move] of plan.entries()) {
    for (let i = 0; i < accountsCount; i++) {
      const userId = userIdOf(i);
      const command: AccountCommand = {
        commandId: `crash-${userId}-${step}`,
        userId,
        kind: step === 0 ? 'create' : 'transition',
        target: move.target,
        authority: move.authority,
        reasonCode: move.reasonCode,
        actorId: 'crash-test',
      };
      inFlight.push(js.publish(names.commandSubject(partitionOf(userId, partitions), userId), JSON.stringify(command), { msgID: command.commandId }));
      if (inFlight.length >= inFlightMax) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
  }
  await Promise.all(inFlight);
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
  pool = createPool(database.url, 4);
});

afterAll(async () => {
  await killEngine('SIGKILL');
  if (nc) await deleteNamespaceStreams(nc, names);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

describe('crash recovery of the account lifecycle', () => {
  it('SIGKILL mid-run, restart: KV, audit rows and events agree; nothing lost, nothing applied twice', { timeout: 300_000 }, async () => {
    engine = startEngineProcess();
    await waitFor('engine to start', engineReady, 60_000);
    await publishAll();

    // Kill it hard while it is in the middle of the run.
    const killedAt = await waitFor('a third of the transitions', async () => {
      const n = await auditCount();
      return n >= transitionsTotal / 3 ? n : null;
    }, 120_000);
    await killEngine('SIGKILL');
    expect(killedAt).toBeLessThan(transitionsTotal);
    const afterKill = await auditCount();

    engine = startEngineProcess();
    await waitFor('every transition', async () => (await auditCount()) === transitionsTotal, 180_000);
    // Let the engine ack what it finished, then stop it cleanly so nothing more can happen.
    await waitFor('consumers drained', async () => {
      for (let p = 0; p < partitions; p++) {
        const info = await jsm.consumers.info(names.commandStream, names.commandConsumer(p));
        if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
      }
      return true;
    }, 60_000);
    await killEngine('SIGTERM');
    console.info(`crash test: killed at ${afterKill} of ${transitionsTotal} audit rows; all ${transitionsTotal} present after restart`);

    // Postgres: each account has exactly its ten rows, in plan order, hash chain intact.
    const rejections = await pool.query('SELECT count(*)::int AS n FROM account_command_rejections');
    const parked = await pool.query('SELECT count(*)::int AS n FROM parked_commands');
    expect(rejections.rows[0].n).toBe(0);
    expect(parked.rows[0].n).toBe(0);

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
      expect(rows.map((r) => r.commandId)).toEqual(plan.map((_, step) => `crash-${userId}-${step}`));
      expect(verifyChain(rows)).toBeNull();

      const entry = await accounts.get(userId);
      const record = accountRecordSchema.parse(entry?.json());
      expect(record.state).toBe('suspended');
      expect(record.seq).toBe(plan.length);
      expect(record.last.transitionId).toBe(rows.at(-1)?.transitionId);
      expect(entry?.revision).toBe(rows.at(-1)?.kvRevision);

      const userEvents = eventsByUser.get(userId) ?? [];
      expect(userEvents.map((e) => e.transitionId)).toEqual(rows.map((r) => r.transitionId));
    }
  });
});

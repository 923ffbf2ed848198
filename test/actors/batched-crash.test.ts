import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { commandConsumersDrained, expectRunExact, publishRun, type AccountRun, type PlannedMove } from '../support/account-run.js';
import { createTestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { EngineProcess } from '../support/engine-process.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';

/**
 * The batched command path (ADR 0019) through two SIGKILLs. The whole backlog is queued before
 * the engine starts, so every group-commit statement carries many actors' rows and the kills
 * land while statements are in flight. One command in ten is sent a second time with the same
 * commandId and no Nats-Msg-Id (so the server does not drop it): the engine must answer it from
 * the audit table, often from inside the same batch as the first copy.
 */
const accountsCount = 1_000;
const partitions = 8;

const plan: PlannedMove[] = [
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
let run: AccountRun;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let pool: Pool;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let engine: EngineProcess;

const engineLog = (): string => `engine output:\n${engine.output.slice(-4_000)}`;

const auditCount = async (): Promise<number> =>
  (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM account_state_transitions')).rows[0]?.n ?? 0;

const transactionsCommitted = async (): Promise<number> =>
  Number((await pool.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1', [database.name])).rows[0]?.n ?? 0);

beforeAll(async () => {
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  pool = createPool(database.url, 2);
  run = { names, partitions, plan, userIds: Array.from({ length: accountsCount }, (_, i) => userIdOf(i)), commandIdOf: (userId, step) => `batched-${userId}-${step}` };
  engine = new EngineProcess({
    NATS_URL: sharedNatsUrl(), DATABASE_URL: database.url, NAMESPACE: names.namespace, COMMAND_PARTITIONS: String(partitions), HTTP_LISTEN: '127.0.0.1:0',
  });
  // The command stream exists before the engine does, so the backlog can be queued first.
  await jsm.streams.add({ name: names.commandStream, subjects: [names.commandSubjectAll], duplicate_window: 10 * 60 * 1e9 });
});

afterAll(async () => {
  await engine?.kill('SIGKILL');
  if (nc) await deleteNamespaceStreams(nc, names);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

describe('the batched command path through SIGKILL mid-batch', () => {
  it('two kills while group commits are in flight: nothing lost, nothing doubled, order kept', { timeout: 240_000 }, async () => {
    const published = await publishRun(js, run, { actorId: 'batched-crash-test', inFlightMax: 500, sentTwice: repeated });
    expect(published).toBeGreaterThan(transitionsTotal);
    const txBefore = await transactionsCommitted();

    const killsAt: number[] = [];
    for (const share of [0.2, 0.6]) {
      engine.start();
      const reached = await until(`${share * 100}% of the transitions`, async () => {
        const n = await auditCount();
        return n >= transitionsTotal * share ? n : null;
      }, 120_000, { pollMs: 10, retryErrors: true, detail: engineLog });
      await engine.kill('SIGKILL');
      killsAt.push(reached);
    }
    expect(killsAt.every((n) => n < transitionsTotal)).toBe(true);

    engine.start();
    await until('every transition', async () => (await auditCount()) === transitionsTotal, 120_000, { retryErrors: true, detail: engineLog });
    await until('consumers drained', () => commandConsumersDrained(jsm, names, partitions), 60_000, { retryErrors: true, detail: engineLog });
    await engine.kill('SIGTERM');
    const statementsPerTransition = ((await transactionsCommitted()) - txBefore) / transitionsTotal;
    console.info(`batched crash test: killed at ${killsAt.join(' and ')} of ${transitionsTotal} audit rows; ${statementsPerTransition.toFixed(2)} Postgres transactions per transition`);
    // The path did batch: before the group commit a transition cost about three statements.
    expect(statementsPerTransition).toBeLessThan(1);

    // Repeats were answered, not rejected or parked; nothing else was rejected; every account exact.
    await expectRunExact({ nc, js, pool }, run);
  });
});

import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { ownAdminInfo } from '../support/admin-info.js';
import { commandConsumersDrained, expectRunExact, publishRun, tenMovePlan, type AccountRun } from '../support/account-run.js';
import { createTestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { EngineProcess } from '../support/engine-process.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';

const accountsCount = 1_000;
const partitions = 8;

/** Ten allowed moves per account, ending in `suspended`: 1,000 accounts × 10 = 10,000 transitions. */
const plan = tenMovePlan;
const transitionsTotal = accountsCount * plan.length;
const userIdOf = (i: number): string => `u${String(i).padStart(4, '0')}`;

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

async function engineReady(): Promise<boolean> {
  await jsm.consumers.info(names.commandStream, names.commandConsumer(partitions - 1));
  return (await ownAdminInfo(nc, names, 300)) !== undefined;
}

beforeAll(async () => {
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  pool = createPool(database.url, 4);
  run = { names, partitions, plan, userIds: Array.from({ length: accountsCount }, (_, i) => userIdOf(i)), commandIdOf: (userId, step) => `crash-${userId}-${step}` };
  engine = new EngineProcess({
    NATS_URL: sharedNatsUrl(), DATABASE_URL: database.url, NAMESPACE: names.namespace, COMMAND_PARTITIONS: String(partitions), HTTP_LISTEN: '127.0.0.1:0',
  });
});

afterAll(async () => {
  await engine?.kill('SIGKILL');
  if (nc) await deleteNamespaceStreams(nc, names);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

describe('crash recovery of the account lifecycle', () => {
  it('SIGKILL mid-run, restart: KV, audit rows and events agree; nothing lost, nothing applied twice', { timeout: 300_000 }, async () => {
    engine.start();
    await until('engine to start', engineReady, 60_000, { retryErrors: true, detail: engineLog });
    // Round by round, so every account's commands are in stream order, interleaved with others'.
    await publishRun(js, run, { actorId: 'crash-test', inFlightMax: 200 });

    // Kill it hard while it is in the middle of the run.
    const killedAt = await until('a third of the transitions', async () => {
      const n = await auditCount();
      return n >= transitionsTotal / 3 ? n : null;
    }, 120_000, { retryErrors: true, detail: engineLog });
    await engine.kill('SIGKILL');
    expect(killedAt).toBeLessThan(transitionsTotal);
    const afterKill = await auditCount();

    engine.start();
    await until('every transition', async () => (await auditCount()) === transitionsTotal, 180_000, { retryErrors: true, detail: engineLog });
    // Let the engine ack what it finished, then stop it cleanly so nothing more can happen.
    await until('consumers drained', () => commandConsumersDrained(jsm, names, partitions), 60_000, { retryErrors: true, detail: engineLog });
    await engine.kill('SIGTERM');
    console.info(`crash test: killed at ${afterKill} of ${transitionsTotal} audit rows; all ${transitionsTotal} present after restart`);

    // Postgres: each account has exactly its ten rows, in plan order, hash chain intact; KV and events agree.
    await expectRunExact({ nc, js, pool }, run);
  });
});

import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/actors/partition.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { EngineProcess, engineAnswers } from '../support/engine-process.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';

const partitions = 2;
const leaseTtlMs = 10_000;
let database: TestDatabase;
let names: NatsNames;
let nc: NatsConnection;
const engines: EngineProcess[] = [];
let userNo = 0;

/** A fresh user id on `partition`. */
function userOn(partition: number): string {
  for (;;) {
    const userId = `gap${userNo++}`;
    if (partitionOf(userId, partitions) === partition) return userId;
  }
}

/** ms from now until a create on every partition is answered. */
async function commandsServedAfter(startedAtMs: number): Promise<number> {
  for (let p = 0; p < partitions; p++) {
    for (;;) {
      try {
        const reply = (await nc.request(`${names.adminPrefix}.account.create`, JSON.stringify({ userId: userOn(p) }), { timeout: 1_000 })).json<{ state?: string }>();
        if (reply.state === 'pending_kyc') break;
      } catch {
        // not served yet
      }
      if (Date.now() - startedAtMs > 60_000) throw new Error('commands not served within 60 s');
    }
  }
  return Date.now() - startedAtMs;
}

async function gapAfterKill(firstId: string, secondId: string): Promise<number> {
  const env = { NATS_URL: sharedNatsUrl(), DATABASE_URL: database.url, NAMESPACE: names.namespace, COMMAND_PARTITIONS: String(partitions), LEASE_TTL_MS: String(leaseTtlMs) };
  const engine = new EngineProcess(env);
  engines.push(engine);
  engine.start({ INSTANCE_ID: firstId });
  await engineAnswers(nc, names);
  await commandsServedAfter(Date.now());
  await engine.kill('SIGKILL');
  const restartedAt = Date.now();
  engine.start({ INSTANCE_ID: secondId });
  const gap = await commandsServedAfter(restartedAt);
  await engine.kill('SIGKILL');
  // Let the leases of this run expire before the next measurement.
  await new Promise((r) => setTimeout(r, leaseTtlMs + 500));
  return gap;
}

beforeAll(async () => {
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
});

afterAll(async () => {
  for (const engine of engines) await engine.kill();
  await deleteNamespaceStreams(nc, names);
  await nc?.close();
  await database?.drop();
});

describe('restart gap after a SIGKILL', () => {
  it('an instance restarting with its stable INSTANCE_ID serves commands without waiting out the lease TTL', async () => {
    const withNewId = await gapAfterKill('gap-old', 'gap-new');
    const withSameId = await gapAfterKill('gap-stable', 'gap-stable');
    console.log(JSON.stringify({ event: 'restart_gap', leaseTtlMs, withNewIdMs: withNewId, withSameIdMs: withSameId }));
    expect(withNewId).toBeGreaterThan(leaseTtlMs * 0.5);
    expect(withSameId).toBeLessThan(withNewId - leaseTtlMs * 0.3);
  }, 120_000);
});

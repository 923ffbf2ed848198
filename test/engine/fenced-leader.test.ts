import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { EngineProcess, engineAnswers } from '../support/engine-process.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';

const leaseTtlMs = 2_000;
let database: TestDatabase;
let names: NatsNames;
let nc: NatsConnection;
let pool: Pool;
const engines: EngineProcess[] = [];

function engineProcess(instanceId: string): EngineProcess {
  const engine = new EngineProcess({
    NATS_URL: sharedNatsUrl(), DATABASE_URL: database.url, NAMESPACE: names.namespace, COMMAND_PARTITIONS: '2',
    LEASE_TTL_MS: String(leaseTtlMs), INSTANCE_ID: instanceId, LOG_LEVEL: 'info',
  });
  engines.push(engine);
  return engine;
}

const fenceOf = async (): Promise<{ token: string; holder: string; claimed_at: Date } | undefined> =>
  (await pool.query<{ token: string; holder: string; claimed_at: Date }>("SELECT token::text, holder, claimed_at FROM lease_fences WHERE lease = 'leader'")).rows[0];

beforeAll(async () => {
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  pool = createPool(database.url, 4);
});

afterAll(async () => {
  for (const engine of engines) {
    engine.signal('SIGCONT');
    await engine.kill();
  }
  await deleteNamespaceStreams(nc, names);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

describe('a paused leader is fenced', () => {
  it('SIGSTOP past the lease TTL: another instance takes over; on SIGCONT the old leader\'s write is refused and it steps down', async () => {
    const a = engineProcess('fence-a');
    a.start();
    await engineAnswers(nc, names);
    const first = await until('a leads', async () => (await fenceOf())?.holder === 'fence-a' && (await fenceOf()), 30_000);
    // A has written under its term.
    await until('a checkpoint under a\'s token', async () =>
      (await pool.query('SELECT 1 FROM recon_checks WHERE fence_token = $1', [first.token])).rowCount! > 0, 15_000);
    const b = engineProcess('fence-b');
    b.start();
    await until('b answers too', () => b.output.includes('"event":"accounts.started"') || b.output.includes('account lifecycle'), 30_000).catch(() => undefined);

    a.signal('SIGSTOP');
    const second = await until('b claims the lease', async () => {
      const fence = await fenceOf();
      return fence?.holder === 'fence-b' && fence;
    }, 30_000);
    expect(Number(second.token)).toBeGreaterThan(Number(first.token));
    a.signal('SIGCONT');

    // A wakes: its lease round fails (deposed) and its reconciler's last checkpoint is refused by the fence.
    const fenced = await until('a logs the refused write', () => a.events('recon.fenced')[0], 20_000);
    expect(String(fenced.err)).toMatch(/fenced: lease leader token/);
    await new Promise((r) => setTimeout(r, 1_000));
    const fromA = await pool.query('SELECT count(*)::int AS n FROM recon_checks WHERE fence_token = $1 AND at > $2', [first.token, second.claimed_at]);
    expect(fromA.rows[0].n).toBe(0);
    const eventsFromA = await pool.query('SELECT count(*)::int AS n FROM recon_break_events WHERE fence_token = $1 AND at > $2', [first.token, second.claimed_at]);
    expect(eventsFromA.rows[0].n).toBe(0);
    // B leads on, A is alive and follows.
    expect((await fenceOf())?.holder).toBe('fence-b');
    expect(a.running).toBe(true);
    await until('b checkpoints under its token', async () =>
      (await pool.query('SELECT 1 FROM recon_checks WHERE fence_token = $1', [second.token])).rowCount! > 0, 15_000);
    await a.kill();
    await b.kill();
  });

  it('SIGKILL of the leader: an operator\'s request that the leader answers, sent at once, waits for the election and is answered', async () => {
    const a = engineProcess('handover-a');
    a.start();
    await engineAnswers(nc, names);
    await until('a leads', async () => (await fenceOf())?.holder === 'handover-a', 30_000);
    const b = engineProcess('handover-b');
    b.start();
    await until('b answers too', () => b.output.includes('"event":"engine.ready"'), 30_000);
    await a.kill(); // its lease key stays until the TTL: no instance leads meanwhile
    // A request the server routed to the dead instance's subscription in the instant before it saw the
    // connection close would be lost (core NATS): give it that instant.
    await new Promise((r) => setTimeout(r, 200));
    const leases = await new Kvm(nc).open(names.partitionLeaseBucket);
    expect((await leases.get('leader'))?.string()).toBe('handover-a'); // the dead instance's term has not run out
    const sentAt = Date.now();
    const reply = (await nc.request(`${names.adminPrefix}.recon.status`, '{}', { timeout: 15_000 }).catch((error: unknown) => {
      const events = b.output.split('\n').filter((l) => /leader\.|engine\.ready|recon\.started|lease/.test(l)).slice(-20).join('\n');
      throw new Error(`${(error as Error).message} after ${Date.now() - sentAt} ms; b's leader events:\n${events}`);
    })).json<{ boundaries?: Array<{ name: string }>; error?: unknown }>();
    const waitedMs = Date.now() - sentAt;
    expect(reply.error).toBeUndefined();
    expect(reply.boundaries?.map((x) => x.name)).toContain('me_db');
    await until('b claims the fence', async () => (await fenceOf())?.holder === 'handover-b', 15_000);
    // Answered once the old term ran out and b was elected: it waited for that.
    expect(waitedMs).toBeGreaterThan(100);
    await b.kill();
  });
});

import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { freePort } from '../../src/embedded/nats-server-process.js';
import { classifyFailure } from '../../src/supervisor/failure-class.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';

/** The errors are the ones the real clients throw, not hand-made look-alikes. */
async function thrown(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  throw new Error('expected the action to throw');
}

let nc: NatsConnection;
const databaseUrl = (): string => inject('databaseUrl');

beforeAll(async () => {
  nc = await connect({ servers: sharedNatsUrl() });
});

afterAll(async () => {
  await nc?.close();
});

describe('classifyFailure: transient dependency failures', () => {
  it('a NATS request that times out', async () => {
    const subject = `${testNamespace()}.silent`;
    const sub = nc.subscribe(subject, { callback: () => undefined });
    await nc.flush();
    const error = await thrown(() => nc.request(subject, '', { timeout: 100 }));
    sub.unsubscribe();
    expect(classifyFailure(error)).toEqual({ kind: 'transient', dependency: 'nats' });
  });

  it('a NATS request nobody answers, and a JetStream publish no stream takes (no responders)', async () => {
    expect(classifyFailure(await thrown(() => nc.request(`${testNamespace()}.nobody`, '', { timeout: 1_000 })))).toEqual({ kind: 'transient', dependency: 'nats' });
    expect(classifyFailure(await thrown(() => jetstream(nc).publish(`${testNamespace()}.nostream`, 'x')))).toEqual({ kind: 'transient', dependency: 'nats' });
  });

  it('a request on a closed NATS connection', async () => {
    const closed = await connect({ servers: sharedNatsUrl() });
    await closed.close();
    expect(classifyFailure(await thrown(() => closed.request('x', '', { timeout: 1_000 })))).toEqual({ kind: 'transient', dependency: 'nats' });
  });

  it('Postgres refusing connections (ECONNREFUSED)', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: await freePort(), user: 'postgres', database: 'postgres' });
    expect(classifyFailure(await thrown(() => client.connect()))).toEqual({ kind: 'transient', dependency: 'postgres' });
  });

  it('a Postgres connection terminated by the server (57P01) and the pool afterwards', async () => {
    const victim = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
    victim.on('error', () => undefined);
    const admin = new pg.Client({ connectionString: databaseUrl() });
    await admin.connect();
    try {
      const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const running = thrown(() => victim.query('SELECT pg_sleep(30)'));
      await new Promise((r) => setTimeout(r, 200));
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const error = await running;
      expect((error as { code?: string }).code ?? (error as Error).message).toMatch(/57P01|Connection terminated/);
      expect(classifyFailure(error)).toEqual({ kind: 'transient', dependency: 'postgres' });
    } finally {
      await admin.end();
      await victim.end();
    }
  });

  it('a transient cause wrapped in another error', async () => {
    const timeout = await thrown(() => nc.request(`${testNamespace()}.nobody`, '', { timeout: 100 }));
    expect(classifyFailure(new Error('audit append failed', { cause: timeout }))).toEqual({ kind: 'transient', dependency: 'nats' });
  });
});

describe('classifyFailure: faults of the actor', () => {
  it('a KV compare-and-set on a stale revision (a conflict, not an outage)', async () => {
    const kv = await new Kvm(nc).create(`${testNamespace()}_cas`);
    try {
      await kv.put('k', 'a');
      const error = await thrown(() => kv.update('k', 'b', 999));
      expect(classifyFailure(error)).toEqual({ kind: 'fault' });
    } finally {
      await kv.destroy();
    }
  });

  it('Postgres rejecting a statement (syntax, unique violation)', async () => {
    const client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
    try {
      expect(classifyFailure(await thrown(() => client.query('SELEC 1')))).toEqual({ kind: 'fault' });
      await client.query('CREATE TEMP TABLE once (id int PRIMARY KEY)');
      await client.query('INSERT INTO once VALUES (1)');
      expect(classifyFailure(await thrown(() => client.query('INSERT INTO once VALUES (1)')))).toEqual({ kind: 'fault' });
    } finally {
      await client.end();
    }
  });

  it('bugs and invariant violations', () => {
    expect(classifyFailure(new TypeError("Cannot read properties of undefined (reading 'seq')"))).toEqual({ kind: 'fault' });
    expect(classifyFailure(new Error('hash chain broken at seq 7'))).toEqual({ kind: 'fault' });
    expect(classifyFailure(z.object({ seq: z.number() }).safeParse({ seq: 'x' }).error)).toEqual({ kind: 'fault' });
    expect(classifyFailure('a string')).toEqual({ kind: 'fault' });
    expect(classifyFailure(undefined)).toEqual({ kind: 'fault' });
  });
});

import { createServer, type Socket } from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { dependencyProbe } from '../../src/engine/dependency-probe.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { sharedNatsUrl } from '../support/nats.js';

let database: TestDatabase;
let pool: Pool;
let nc: NatsConnection;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool(database.url, 2);
  nc = await connect({ servers: sharedNatsUrl() });
});

afterAll(async () => {
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

describe('dependencyProbe: the real Postgres and JetStream asked directly', () => {
  it('says both answer while they are up', async () => {
    const probe = dependencyProbe({ pool, jsm: await jetstreamManager(nc), timeoutMs: 2_000 });
    expect(await probe('postgres')).toBe(true);
    expect(await probe('nats')).toBe(true);
  });

  it('says Postgres does not answer when its pool cannot connect, and NATS when its connection is closed', async () => {
    // Nothing listens on port 1: the connection is refused.
    const unreachable = createPool('postgres://postgres@127.0.0.1:1/postgres', 1);
    const closed = await connect({ servers: sharedNatsUrl() });
    const jsm = await jetstreamManager(closed);
    await closed.close();
    try {
      const probe = dependencyProbe({ pool: unreachable, jsm, timeoutMs: 2_000 });
      expect(await probe('postgres')).toBe(false);
      expect(await probe('nats')).toBe(false);
    } finally {
      await unreachable.end();
    }
  });

  it('shares one probe among the commands that ask at once', async () => {
    let queries = 0;
    const counting = { query: async () => { queries++; return pool.query('SELECT 1'); } } as unknown as Pool;
    const probe = dependencyProbe({ pool: counting, jsm: await jetstreamManager(nc), timeoutMs: 2_000 });
    expect(await Promise.all(Array.from({ length: 50 }, () => probe('postgres')))).toEqual(Array.from({ length: 50 }, () => true));
    expect(queries).toBe(1);
    expect(await probe('postgres')).toBe(true);
    expect(queries).toBe(2);
  });

  it('says a dependency that does not answer within the timeout does not answer', async () => {
    // A Postgres that accepts the connection and then says nothing: a server stalled, not away.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const stalled = createPool(`postgres://postgres@127.0.0.1:${address.port}/postgres`, 1);
    try {
      const probe = dependencyProbe({ pool: stalled, jsm: await jetstreamManager(nc), timeoutMs: 300 });
      const started = performance.now();
      expect(await probe('postgres')).toBe(false);
      expect(performance.now() - started).toBeLessThan(2_000);
    } finally {
      // Hung up on, the pending connection fails and the pool can end.
      for (const socket of sockets) socket.destroy();
      silent.close();
      await stalled.end().catch(() => undefined);
    }
  });
});

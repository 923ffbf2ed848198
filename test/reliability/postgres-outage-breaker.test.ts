import { afterAll, beforeAll, describe, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { runThroughOutage, startOutageEngine, type OutageEngine } from './breaker-support.js';

/**
 * Postgres goes away under the engine (every connection dropped, new ones refused, through a TCP
 * proxy) while commands flow: the intake pauses on `postgres` instead of the engine stopping.
 */
let database: TestDatabase;
let proxy: TcpProxy;
let running: OutageEngine;

beforeAll(async () => {
  database = await createTestDatabase();
  const direct = new URL(database.url);
  proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const proxied = new URL(database.url);
  proxied.port = String(proxy.port);
  running = await startOutageEngine({
    natsUrl: sharedNatsUrl(), databaseUrl: proxied.toString(), clientDatabaseUrl: database.url, overrides: { NAMESPACE: testNamespace() },
  });
}, 60_000);

afterAll(async () => {
  await proxy?.restore().catch(() => undefined);
  await running?.engine.stop().catch(() => undefined);
  if (running) await deleteNamespaceStreams(running.nc, running.names);
  await running?.stop();
  await proxy?.close();
  await database?.drop();
});

describe('Postgres away pauses the command intake instead of stopping the engine', () => {
  it('breaker opens on postgres and closes; no escalation; every command applied exactly once, in order', { timeout: 240_000 }, async () => {
    await runThroughOutage({
      ...running, accounts: 300, dependency: 'postgres', outageMs: 8_000,
      startOutage: () => proxy.cut(),
      endOutage: () => proxy.restore(),
    });
  });
});

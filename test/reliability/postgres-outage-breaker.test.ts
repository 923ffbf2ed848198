import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { startEngine, type Engine } from '../../src/engine/engine.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { capturingLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { outageSettings, runThroughOutage } from './breaker-support.js';

/**
 * Postgres goes away under the engine (every connection dropped, new ones refused, through a TCP
 * proxy) while commands flow: the intake pauses on `postgres` instead of the engine stopping.
 */
const partitions = 4;
let database: TestDatabase;
let proxy: TcpProxy;
let names: NatsNames;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let pool: Pool;
let engine: Engine | null = null;
let fatal: string | null = null;
const captured = capturingLogger('info');

beforeAll(async () => {
  database = await createTestDatabase();
  const direct = new URL(database.url);
  proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const proxied = new URL(database.url);
  proxied.port = String(proxy.port);
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  pool = createPool(database.url, 4);
  const settings = loadSettings({}, {
    NAMESPACE: names.namespace, COMMAND_PARTITIONS: String(partitions), HTTP_LISTEN: 'off', LOG_LEVEL: 'info',
    COMMAND_RESTARTS_MAX: String(outageSettings.restartsMax), COMMAND_BREAKER_FAILURES: String(outageSettings.breakerFailures),
    COMMAND_BREAKER_BACKOFF_MAX_MS: String(outageSettings.breakerBackoffMaxMs),
  });
  engine = await startEngine({ settings, natsUrl: sharedNatsUrl(), databaseUrl: proxied.toString(), log: captured.log, onFatal: (reason) => {
    fatal = reason;
  } });
}, 60_000);

afterAll(async () => {
  await proxy?.restore().catch(() => undefined);
  await engine?.stop().catch(() => undefined);
  if (nc) await deleteNamespaceStreams(nc, names);
  await nc?.close().catch(() => undefined);
  await proxy?.close();
  await pool?.end();
  await database?.drop();
});

describe('Postgres away pauses the command intake instead of stopping the engine', () => {
  it('breaker opens on postgres and closes; no escalation; every command applied exactly once, in order', { timeout: 240_000 }, async () => {
    await runThroughOutage({
      engine: engine!, nc, js, jsm, pool, names, partitions, accounts: 300, lines: captured.lines, fatal: () => fatal,
      dependency: 'postgres', outageMs: 8_000,
      startOutage: () => proxy.cut(),
      endOutage: () => proxy.restore(),
    });
  });
});

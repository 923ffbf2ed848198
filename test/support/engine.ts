import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { startEngine, type Engine } from '../../src/engine/engine.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import type { Logger } from '../../src/observability/logger.js';
import { createTestDatabase } from './database.js';
import { silentLogger } from './log.js';
import { sharedNatsUrl, testNamespace } from './nats.js';
import { removeTopology } from '../../src/nats/topology.js';

export interface TestEngine {
  engine: Engine;
  settings: Settings;
  names: NatsNames;
  /** A client connection of the test's own (not the engine's). */
  client: NatsConnection;
  /** A pool on the test's database, for checking what the engine wrote. */
  pool: Pool;
  databaseUrl: string;
  /** Sends a JSON (or raw string) admin request on `admin.<relative>` and parses the JSON reply. */
  admin(relative: string, body: unknown): Promise<unknown>;
  close(): Promise<void>;
}

export interface TestEngineOptions {
  /** Where the engine (only) connects, e.g. a proxy in front of the shared NATS; the test's client connects directly. */
  engineNatsUrl?: string;
  /** The engine's logger (default: silent). */
  log?: Logger;
}

/** An in-process engine on the shared NATS (own namespace) and a fresh database of its own. */
export async function startTestEngine(overrides: Partial<Record<keyof Settings, string>> = {}, options: TestEngineOptions = {}): Promise<TestEngine> {
  const database = await createTestDatabase();
  const natsUrl = sharedNatsUrl();
  const settings = loadSettings({}, { NAMESPACE: testNamespace(), COMMAND_PARTITIONS: '4', LOG_LEVEL: 'silent', ...overrides });
  const engine = await startEngine({ settings, natsUrl: options.engineNatsUrl ?? natsUrl, databaseUrl: database.url, log: options.log ?? silentLogger() });
  const client = await connect({ servers: natsUrl });
  const pool = createPool(database.url, 4);
  const names = natsNames(settings.NAMESPACE);
  return {
    engine,
    settings,
    names,
    client,
    pool,
    databaseUrl: database.url,
    async admin(relative, body) {
      const payload = typeof body === 'string' ? body : JSON.stringify(body);
      const reply = await client.request(`${names.adminPrefix}.${relative}`, payload, { timeout: 15_000 });
      return reply.json();
    },
    async close() {
      await engine.stop();
      // Leave the shared NATS as we found it: this namespace's streams and bucket go.
      await deleteNamespaceStreams(client, names);
      await client.close();
      await pool.end();
      await database.drop();
    },
  };
}

/** Leaves the shared NATS as the test found it: every stream and bucket of the namespace goes. */
export async function deleteNamespaceStreams(nc: NatsConnection, names: NatsNames): Promise<void> {
  await removeTopology(nc, names);
}

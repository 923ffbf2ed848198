import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { startEngine, type Engine } from '../../src/engine/engine.js';
import { natsNames } from '../../src/nats/names.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { capturingLogger } from '../support/log.js';
import { startPrivateNats, type PrivateNats } from '../support/nats.js';
import { outageSettings, runThroughOutage } from './breaker-support.js';

/**
 * NATS stops answering (SIGSTOP) while commands flow: every actor with a command in flight
 * times out at once, far more often than the (lowered) restart budget allows. The engine must
 * pause its intake instead of escalating, and afterwards have applied every command once, in order.
 */
const partitions = 4;
let database: TestDatabase;
let nats: PrivateNats;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let pool: Pool;
let engine: Engine | null = null;
let fatal: string | null = null;
const captured = capturingLogger('info');

beforeAll(async () => {
  database = await createTestDatabase();
  nats = await startPrivateNats();
  nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  pool = createPool(database.url, 4);
  const settings = loadSettings({}, {
    COMMAND_PARTITIONS: String(partitions), HTTP_LISTEN: 'off', LOG_LEVEL: 'info',
    COMMAND_RESTARTS_MAX: String(outageSettings.restartsMax), COMMAND_BREAKER_FAILURES: String(outageSettings.breakerFailures),
    COMMAND_BREAKER_BACKOFF_MAX_MS: String(outageSettings.breakerBackoffMaxMs),
    // Long enough that the stall does not also move the partition leases: this test is about the command path.
    LEASE_TTL_MS: '60000',
  });
  engine = await startEngine({ settings, natsUrl: nats.url, databaseUrl: database.url, log: captured.log, instanceId: 'stall-breaker', onFatal: (reason) => {
    fatal = reason;
  } });
}, 60_000);

afterAll(async () => {
  nats?.kill('SIGCONT');
  await engine?.stop().catch(() => undefined);
  await nc?.close().catch(() => undefined);
  await nats?.stop();
  await pool?.end();
  await database?.drop();
});

describe('a stalled NATS pauses the command intake instead of stopping the engine', () => {
  it('breaker opens and closes; no escalation; every command applied exactly once, in order', { timeout: 240_000 }, async () => {
    await runThroughOutage({
      engine: engine!, nc, js, jsm, pool, names: natsNames(''), partitions, accounts: 300, lines: captured.lines, fatal: () => fatal,
      dependency: 'nats', outageMs: 8_000,
      startOutage: () => nats.kill('SIGSTOP'),
      endOutage: () => nats.kill('SIGCONT'),
    });
  });
});

import { afterAll, beforeAll, describe, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startPrivateNats, type PrivateNats } from '../support/nats.js';
import { runThroughOutage, startOutageEngine, type OutageEngine } from './breaker-support.js';

/**
 * NATS stops answering (SIGSTOP) while commands flow: every actor with a command in flight
 * times out at once, far more often than the (lowered) restart budget allows. The engine must
 * pause its intake instead of escalating, and afterwards have applied every command once, in order.
 */
let database: TestDatabase;
let nats: PrivateNats;
let running: OutageEngine;

beforeAll(async () => {
  database = await createTestDatabase();
  nats = await startPrivateNats();
  // Leases long enough that the stall does not also move the partitions: this test is about the command path.
  running = await startOutageEngine({ natsUrl: nats.url, databaseUrl: database.url, overrides: { LEASE_TTL_MS: '60000', INSTANCE_ID: 'stall-breaker' } });
}, 60_000);

afterAll(async () => {
  nats?.kill('SIGCONT');
  await running?.stop();
  await nats?.stop();
  await database?.drop();
});

describe('a stalled NATS pauses the command intake instead of stopping the engine', () => {
  it('breaker opens and closes; no escalation; every command applied exactly once, in order', { timeout: 240_000 }, async () => {
    await runThroughOutage({
      ...running, accounts: 300, dependency: 'nats', outageMs: 8_000,
      startOutage: () => nats.kill('SIGSTOP'),
      endOutage: () => nats.kill('SIGCONT'),
    });
  });
});

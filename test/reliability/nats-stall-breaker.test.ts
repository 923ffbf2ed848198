import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { startEngine, type Engine } from '../../src/engine/engine.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { commandConsumersDrained, expectRunExact, publishRun, type AccountRun, type PlannedMove } from '../support/account-run.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { capturingLogger } from '../support/log.js';
import { startPrivateNats, type PrivateNats } from '../support/nats.js';
import { until } from '../support/until.js';

/**
 * NATS stops answering (SIGSTOP) while commands flow: every actor with a command in flight
 * times out at once, far more often than the (lowered) restart budget allows. The engine must
 * pause its intake instead of escalating, and afterwards have applied every command once, in order.
 */
const accountsCount = 300;
const partitions = 4;
const restartsMax = 50;
const stallMs = 8_000;

const plan: PlannedMove[] = [
  { target: 'pending_kyc', authority: 'self', reasonCode: 'signup' },
  { target: 'kyc_rejected', authority: 'system', reasonCode: 'kyc_fail' },
  { target: 'pending_kyc', authority: 'self', reasonCode: 'resubmit' },
  { target: 'kyc_approved', authority: 'admin', reasonCode: 'kyc_pass' },
  { target: 'active', authority: 'system', reasonCode: 'first_deposit' },
  { target: 'suspended', authority: 'system', reasonCode: 'dispute' },
  { target: 'active', authority: 'admin', reasonCode: 'dispute_closed' },
  { target: 'restricted', authority: 'admin', reasonCode: 'dormancy' },
  { target: 'active', authority: 'admin', reasonCode: 'restore' },
  { target: 'suspended', authority: 'admin', reasonCode: 'court_order_review' },
];
const transitionsTotal = accountsCount * plan.length;

let database: TestDatabase;
let nats: PrivateNats;
let names: NatsNames;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let pool: Pool;
let engine: Engine | null = null;
let fatal: string | null = null;
const captured = capturingLogger('info');

const auditCount = async (): Promise<number> =>
  (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM account_state_transitions')).rows[0]?.n ?? 0;

const events = (event: string): Array<Record<string, unknown>> => captured.lines.filter((line) => line.event === event);

async function gauge(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = engine?.observability.metrics.getSingleMetric(name);
  const { values } = (await metric?.get()) ?? { values: [] };
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

beforeAll(async () => {
  database = await createTestDatabase();
  nats = await startPrivateNats();
  names = natsNames('');
  nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  pool = createPool(database.url, 4);
  const settings = loadSettings({}, {
    COMMAND_PARTITIONS: String(partitions), HTTP_LISTEN: 'off', LOG_LEVEL: 'info',
    COMMAND_RESTARTS_MAX: String(restartsMax), COMMAND_BREAKER_FAILURES: '5', COMMAND_BREAKER_BACKOFF_MAX_MS: '4000',
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
    const run: AccountRun = {
      names, partitions, plan,
      userIds: Array.from({ length: accountsCount }, (_, i) => `st${String(i).padStart(4, '0')}`),
      commandIdOf: (userId, step) => `stall-${userId}-${step}`,
    };
    await until('command consumers', () => jsm.consumers.info(names.commandStream, names.commandConsumer(partitions - 1)), 30_000, { retryErrors: true });
    await publishRun(js, run, { actorId: 'stall-test', inFlightMax: 500 });
    await until('a tenth of the transitions', async () => (await auditCount()) >= transitionsTotal / 10, 120_000);

    const stalledAt = await auditCount();
    const stallStartMs = Date.now();
    nats.kill('SIGSTOP');
    let openSeen = false;
    try {
      // While NATS is stalled the breaker opens, and the metrics say why the intake is paused.
      openSeen = await until('the breaker to open', async () => events('intake.breaker_open').length > 0, stallMs, { pollMs: 100 }).catch(() => false);
      if (openSeen) {
        expect(await gauge('recon_intake_breaker_state')).toBeGreaterThanOrEqual(1);
        expect(await gauge('recon_intake_paused', { dependency: 'nats' })).toBe(1);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, stallStartMs + stallMs - Date.now())));
    } finally {
      nats.kill('SIGCONT');
    }

    await until('every transition', async () => {
      if (fatal) throw new Error(`engine escalated: ${fatal}`);
      return (await auditCount()) === transitionsTotal;
    }, 180_000, { pollMs: 200 });
    await until('consumers drained', () => commandConsumersDrained(jsm, names, partitions), 60_000, { retryErrors: true });
    await until('the breaker to close', async () => events('intake.breaker_closed').length > 0, 30_000);

    const transientRetries = (await gauge('recon_actor_transient_retries')) ?? 0;
    const restarts = (await gauge('recon_actor_restarts')) ?? 0;
    console.info(JSON.stringify({
      event: 'nats_stall_breaker', stalledAt, transitionsTotal, transientRetries, restarts,
      opened: events('intake.breaker_open').map((e) => ({ dependency: e.dependency, consecutiveFailures: e.consecutiveFailures, probe: e.probe, retryInMs: e.retryInMs })),
      closed: events('intake.breaker_closed').map((e) => e.pausedMs),
    }));
    expect(fatal).toBeNull();
    expect(events('supervisor.escalated')).toEqual([]);
    expect(openSeen).toBe(true);
    expect(events('intake.breaker_open')[0]?.dependency).toBe('nats');
    // Under the old count these retries alone would have spent the budget.
    expect(transientRetries).toBeGreaterThan(restartsMax);
    expect(restarts).toBeLessThanOrEqual(restartsMax);
    expect(await gauge('recon_intake_breaker_state')).toBe(0);
    expect(await gauge('recon_intake_paused', { dependency: 'nats' })).toBe(0);
    expect(stalledAt).toBeLessThan(transitionsTotal);

    await expectRunExact({ nc, js, pool }, run);
  });
});

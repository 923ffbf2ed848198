import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { expect } from 'vitest';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { startEngine, type Engine } from '../../src/engine/engine.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { commandConsumersDrained, expectRunExact, publishRun, tenMovePlan, type AccountRun } from '../support/account-run.js';
import { capturingLogger } from '../support/log.js';
import { until } from '../support/until.js';

/** An engine whose restart budget a dependency outage would spend under the old count. */
export const outageSettings = { restartsMax: 50, breakerFailures: 5, breakerBackoffMaxMs: 4_000, partitions: 4 } as const;

/** An in-process engine for an outage, with the test's own NATS client and Postgres pool (around any fault). */
export interface OutageEngine {
  engine: Engine;
  names: NatsNames;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  pool: Pool;
  lines: Array<Record<string, unknown>>;
  /** What the engine's onFatal was told (the supervisor escalated), if anything. */
  fatal(): string | null;
  stop(): Promise<void>;
}

export async function startOutageEngine(options: {
  natsUrl: string;
  /** The test's client goes here (default natsUrl): not through the fault. */
  clientNatsUrl?: string;
  databaseUrl: string;
  /** The test's pool goes here (default databaseUrl): not through the fault. */
  clientDatabaseUrl?: string;
  overrides?: Partial<Record<keyof Settings, string>>;
}): Promise<OutageEngine> {
  const captured = capturingLogger('info');
  const settings = loadSettings({}, {
    COMMAND_PARTITIONS: String(outageSettings.partitions), HTTP_LISTEN: 'off', LOG_LEVEL: 'info',
    COMMAND_RESTARTS_MAX: String(outageSettings.restartsMax), COMMAND_BREAKER_FAILURES: String(outageSettings.breakerFailures),
    COMMAND_BREAKER_BACKOFF_MAX_MS: String(outageSettings.breakerBackoffMaxMs),
    ...options.overrides,
  });
  let fatal: string | null = null;
  const nc = await connect({ servers: options.clientNatsUrl ?? options.natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const pool = createPool(options.clientDatabaseUrl ?? options.databaseUrl, 4);
  const engine = await startEngine({ settings, natsUrl: options.natsUrl, databaseUrl: options.databaseUrl, log: captured.log, onFatal: (reason) => {
    fatal = reason;
  } });
  return {
    engine, names: natsNames(settings.NAMESPACE), nc, js: jetstream(nc), jsm: await jetstreamManager(nc), pool, lines: captured.lines,
    fatal: () => fatal,
    async stop() {
      await engine.stop().catch(() => undefined);
      await nc.close().catch(() => undefined);
      await pool.end();
    },
  };
}


export interface Outage {
  accounts: number;
  dependency: 'nats' | 'postgres';
  outageMs: number;
  startOutage(): void | Promise<void>;
  endOutage(): void | Promise<void>;
}

/**
 * Commands flow; the dependency goes away for `outageMs` after a tenth of them; then: no
 * escalation, the breaker opened (on that dependency) and closed, more transient retries than
 * the restart budget, and every command applied exactly once, in order.
 */
export async function runThroughOutage(o: OutageEngine & Outage): Promise<void> {
  const { pool, jsm, names } = o;
  const { partitions } = outageSettings;
  const plan = tenMovePlan;
  const run: AccountRun = {
    names, partitions, plan,
    userIds: Array.from({ length: o.accounts }, (_, i) => `br${String(i).padStart(4, '0')}`),
    commandIdOf: (userId, step) => `outage-${userId}-${step}`,
  };
  const transitionsTotal = o.accounts * plan.length;
  const auditCount = async (): Promise<number> =>
    (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM account_state_transitions')).rows[0]?.n ?? 0;
  const events = (event: string): Array<Record<string, unknown>> => o.lines.filter((line) => line.event === event);
  const gauge = async (name: string, labels: Record<string, string> = {}): Promise<number | undefined> => {
    const { values } = (await o.engine.observability.metrics.getSingleMetric(name)?.get()) ?? { values: [] };
    return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
  };

  await until('command consumers', () => jsm.consumers.info(names.commandStream, names.commandConsumer(partitions - 1)), 30_000, { retryErrors: true });
  await publishRun(o.js, run, { actorId: 'outage-test', inFlightMax: 500 });
  await until('a tenth of the transitions', async () => (await auditCount()) >= transitionsTotal / 10, 120_000);

  const outageAt = await auditCount();
  const outageStartMs = Date.now();
  await o.startOutage();
  let openSeen = false;
  let pausedGauge: number | undefined;
  try {
    openSeen = await until('the breaker to open', () => events('intake.breaker_open').length > 0, o.outageMs, { pollMs: 100 }).catch(() => false);
    // While it lasts, the metrics say why the intake is paused.
    if (openSeen) pausedGauge = await gauge('recon_intake_paused', { dependency: o.dependency });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, outageStartMs + o.outageMs - Date.now())));
  } finally {
    await o.endOutage();
  }

  await until('every transition', async () => {
    const fatal = o.fatal();
    if (fatal) throw new Error(`engine escalated: ${fatal}`);
    return (await auditCount()) === transitionsTotal;
  }, 180_000, { pollMs: 200 });
  await until('consumers drained', () => commandConsumersDrained(jsm, names, partitions), 60_000, { retryErrors: true });
  await until('the breaker to close', () => events('intake.breaker_closed').length > 0, 30_000);

  const transientRetries = (await gauge('recon_actor_transient_retries')) ?? 0;
  const restarts = (await gauge('recon_actor_restarts')) ?? 0;
  console.info(JSON.stringify({
    event: 'outage_breaker', dependency: o.dependency, outageMs: o.outageMs, outageAt, transitionsTotal, transientRetries, restarts,
    transientOwn: events('actor.transient_own').length,
    opened: events('intake.breaker_open').map((e) => ({ dependency: e.dependency, consecutiveFailures: e.consecutiveFailures, probe: e.probe, retryInMs: e.retryInMs })),
    pausedMs: events('intake.breaker_closed').map((e) => e.pausedMs),
  }));
  expect(o.fatal()).toBeNull();
  expect(events('supervisor.escalated')).toEqual([]);
  // Everyone failed at once: no failure is a message's own, so none is parked (ADR 0028).
  expect(events('actor.parked')).toEqual([]);
  expect(openSeen).toBe(true);
  expect(pausedGauge).toBe(1);
  expect(events('intake.breaker_open')[0]?.dependency).toBe(o.dependency);
  // Under the old count these retries alone would have spent the budget.
  expect(transientRetries).toBeGreaterThan(outageSettings.restartsMax);
  expect(restarts).toBeLessThanOrEqual(outageSettings.restartsMax);
  expect(await gauge('recon_intake_breaker_state')).toBe(0);
  expect(await gauge('recon_intake_paused', { dependency: o.dependency })).toBe(0);
  expect(outageAt).toBeLessThan(transitionsTotal);

  await expectRunExact({ nc: o.nc, js: o.js, pool }, run);
}

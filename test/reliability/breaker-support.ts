import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { expect } from 'vitest';
import type { Pool } from '../../src/db/pool.js';
import type { Engine } from '../../src/engine/engine.js';
import type { NatsNames } from '../../src/nats/names.js';
import { commandConsumersDrained, expectRunExact, publishRun, type AccountRun, type PlannedMove } from '../support/account-run.js';
import { until } from '../support/until.js';

/** Settings of an engine whose restart budget a dependency outage would spend under the old count. */
export const outageSettings = { restartsMax: 50, breakerFailures: 5, breakerBackoffMaxMs: 4_000 } as const;

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

export interface OutageRun {
  engine: Engine;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** The test's own pool on the engine's database (not through any fault). */
  pool: Pool;
  names: NatsNames;
  partitions: number;
  accounts: number;
  /** The engine's log lines (capturingLogger). */
  lines: Array<Record<string, unknown>>;
  /** Set by the engine's onFatal. */
  fatal(): string | null;
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
export async function runThroughOutage(o: OutageRun): Promise<void> {
  const { pool, jsm, names, partitions } = o;
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
    opened: events('intake.breaker_open').map((e) => ({ dependency: e.dependency, consecutiveFailures: e.consecutiveFailures, probe: e.probe, retryInMs: e.retryInMs })),
    pausedMs: events('intake.breaker_closed').map((e) => e.pausedMs),
  }));
  expect(o.fatal()).toBeNull();
  expect(events('supervisor.escalated')).toEqual([]);
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

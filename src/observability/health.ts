import type { NatsConnection } from '@nats-io/nats-core';
import type { Pool } from '../db/pool.js';
import type { BoundaryStatus } from '../recon/boundary-status.js';
import { withTimeout } from '../runtime/with-timeout.js';

/** One dependency's state: `up`, `down` (with why), or `disabled` (not configured: never a failure). */
export interface DependencyHealth {
  state: 'up' | 'down' | 'disabled' | 'elsewhere';
  detail?: string;
}

export interface HealthReport {
  status: 'ok' | 'down';
  /** The dependencies that are down, by name (empty when ok). */
  down: string[];
  dependencies: Record<string, DependencyHealth>;
}

export interface HealthSources {
  nc: NatsConnection;
  pool: Pool;
  /** The boundaries as the reconcilers report them (running on this instance, or disabled). */
  boundaries(): BoundaryStatus[];
  /** True when this instance runs the reconcilers (the others report them as `elsewhere`). */
  isLeader(): boolean;
}

const probeTimeoutMs = 2_000;

async function probe(what: string, work: () => Promise<unknown>): Promise<DependencyHealth> {
  try {
    await withTimeout(work(), probeTimeoutMs, `${what}: no answer within ${probeTimeoutMs} ms`);
    return { state: 'up' };
  } catch (error) {
    return { state: 'down', detail: (error as Error).message.split('\n')[0] ?? 'failed' };
  }
}

/** A boundary is down when its reconciler says its outside system cannot be read. */
function boundaryHealth(status: BoundaryStatus): DependencyHealth {
  if (!status.enabled) return { state: 'disabled', ...(status.reason ? { detail: status.reason } : {}) };
  const failedPolls = status.counters?.consecutiveFailedPolls ?? 0;
  if (failedPolls > 0) return { state: 'down', detail: `${failedPolls} consecutive failed polls` };
  if (status.reason && /unreachable/i.test(status.reason)) return { state: 'down', detail: status.reason };
  return { state: 'up' };
}

/** Checks NATS (a round trip), Postgres (`SELECT 1`) and each boundary, each within 2 s. */
export async function checkHealth(sources: HealthSources): Promise<HealthReport> {
  const [nats, postgres] = await Promise.all([
    sources.nc.isClosed() ? Promise.resolve<DependencyHealth>({ state: 'down', detail: 'connection closed' }) : probe('NATS', () => sources.nc.flush()),
    probe('PostgreSQL', () => sources.pool.query('SELECT 1')),
  ]);
  const dependencies: Record<string, DependencyHealth> = { nats, postgres };
  const reported = new Map(sources.boundaries().map((b) => [b.name, b]));
  for (const name of ['me_db', 'db_custody', 'db_chain']) {
    const status = reported.get(name);
    dependencies[name] = status ? boundaryHealth(status) : { state: 'elsewhere', detail: sources.isLeader() ? 'not running' : 'runs on the leader instance' };
  }
  const down = Object.entries(dependencies).filter(([, h]) => h.state === 'down').map(([name]) => name);
  return { status: down.length === 0 ? 'ok' : 'down', down, dependencies };
}

/** Before the engine is up: down, naming the engine itself. */
export function startingHealth(): HealthReport {
  return { status: 'down', down: ['engine'], dependencies: { engine: { state: 'down', detail: 'starting' } } };
}

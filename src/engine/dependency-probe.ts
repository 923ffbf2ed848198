import type { JetStreamManager } from '@nats-io/jetstream';
import type { Pool } from '../db/pool.js';
import { withTimeout } from '../runtime/with-timeout.js';
import type { Dependency } from '../supervisor/failure-class.js';

/**
 * Asks a dependency directly whether it answers now: a `SELECT 1` of Postgres, JetStream's
 * account info of NATS (its API, not just the connection: a KV write or a publish that times out
 * needs JetStream). False when it fails or takes longer than `timeoutMs`. The supervisor asks when
 * a command keeps failing as if the dependency were away while no other command runs to show
 * otherwise (ADR 0028, second addendum).
 */
export function dependencyProbe(deps: { pool: Pool; jsm: JetStreamManager; timeoutMs: number }): (dependency: Dependency) => Promise<boolean> {
  // Many commands failing at once share one probe of each dependency, not one each.
  const inFlight = new Map<Dependency, Promise<boolean>>();
  return (dependency) => {
    const running = inFlight.get(dependency);
    if (running) return running;
    const probe = probeOnce(deps, dependency).finally(() => inFlight.delete(dependency));
    inFlight.set(dependency, probe);
    return probe;
  };
}

async function probeOnce(deps: { pool: Pool; jsm: JetStreamManager; timeoutMs: number }, dependency: Dependency): Promise<boolean> {
  const ask: Promise<unknown> = dependency === 'postgres' ? deps.pool.query('SELECT 1') : deps.jsm.getAccountInfo();
  try {
    await withTimeout(ask, deps.timeoutMs, `${dependency}: no answer within ${deps.timeoutMs} ms`);
    return true;
  } catch {
    return false;
  }
}

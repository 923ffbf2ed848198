import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Registry } from 'prom-client';
import type { Pool } from '../db/pool.js';
import type { NatsNames } from '../nats/names.js';
import { checkHealth, type HealthReport } from '../observability/health.js';
import { engineMetrics } from '../observability/metrics.js';
import type { BreakerStatus } from '../supervisor/circuit-breaker.js';
import type { SupervisorStats } from '../supervisor/supervisor.js';
import type { Singletons } from './singletons.js';

export interface EngineObservability {
  /** This engine's state metrics (merged with the process registry at /metrics). */
  metrics: Registry;
  health(): Promise<HealthReport>;
  /** Running totals for the live view's summary line. */
  summary(): { eventsHandled: number; liveActors: number; openBreaks: number };
}

export interface ObservabilityDeps {
  nc: NatsConnection;
  jsm: JetStreamManager;
  pool: Pool;
  names: NatsNames;
  partitions: number;
  supervisorStats(): SupervisorStats;
  breakerStatus(): BreakerStatus;
  singletons: Singletons;
}

/** The engine's metric sources and health checks, read at each scrape. */
export function engineObservability(deps: ObservabilityDeps): EngineObservability {
  const { singletons } = deps;
  const durables = (): Array<{ stream: string; consumer: string }> => [
    ...Array.from({ length: deps.partitions }, (_, p) => ({ stream: deps.names.commandStream, consumer: deps.names.commandConsumer(p) })),
    { stream: deps.names.meBalanceStream, consumer: deps.names.meDbConsumer },
  ];
  const metrics = engineMetrics({
    actors: () => deps.supervisorStats(),
    async consumerLag() {
      const found = await Promise.all(durables().map(async ({ stream, consumer }) => {
        // A consumer not created yet (partition never leased, no leader yet) has no lag to report.
        const info = await deps.jsm.consumers.info(stream, consumer).catch(() => null);
        return info ? { stream, consumer, pending: info.num_pending } : null;
      }));
      return found.filter((lag) => lag !== null);
    },
    async parkedMessages() {
      const result = await deps.pool.query<{ n: string }>('SELECT count(*) AS n FROM parked_commands');
      return Number(result.rows[0]?.n ?? 0);
    },
    intakeBreaker: () => deps.breakerStatus(),
    openBreaks: () => singletons.liveBreaks().filter((b) => b.status !== 'accepted'),
    reconcilerLag: () => singletons.statuses().filter((s) => s.enabled).map((s) => ({
      boundary: s.name,
      seconds: s.lastDeltaAt === null ? null : Math.max(0, (Date.now() - Date.parse(s.lastDeltaAt)) / 1000),
    })),
  });
  return {
    metrics,
    summary() {
      const stats = deps.supervisorStats();
      const statuses = singletons.statuses();
      const reconEvents = statuses.reduce((sum, s) => sum + (s.counters?.engineEventsApplied ?? 0) + (s.counters?.ledgerRowsReadSinceStart ?? 0), 0);
      return { eventsHandled: stats.processed + reconEvents, liveActors: stats.liveActors, openBreaks: statuses.reduce((sum, s) => sum + s.openBreaks, 0) };
    },
    health: () => checkHealth({ nc: deps.nc, pool: deps.pool, boundaries: () => singletons.allStatuses(), isLeader: () => singletons.isLeader }),
  };
}

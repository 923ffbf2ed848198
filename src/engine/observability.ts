import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Registry } from 'prom-client';
import type { Pool } from '../db/pool.js';
import type { NatsNames } from '../nats/names.js';
import { checkHealth, type HealthReport } from '../observability/health.js';
import { limits } from '../config/limits.js';
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
  supervisorStats(): SupervisorStats;
  /** The command partitions this instance consumes, each with its intake's pending count while current. */
  ownedPartitionsPending(): Array<{ partition: number; pending: number | null }>;
  breakerStatus(): BreakerStatus;
  singletons: Singletons;
}

/**
 * A consumer's num_pending from the server, asked at most once per `intervalMs` (the last answer
 * served in between); null while it never answered (the consumer not created yet).
 */
function consumerInfoEvery(jsm: JetStreamManager, intervalMs: number): (stream: string, consumer: string) => Promise<number | null> {
  const answers = new Map<string, { pending: number; atMs: number }>();
  return async (stream, consumer) => {
    const key = `${stream}/${consumer}`;
    const last = answers.get(key);
    if (last && Date.now() - last.atMs < intervalMs) return last.pending;
    const info = await jsm.consumers.info(stream, consumer).catch(() => null);
    if (!info) return last?.pending ?? null;
    answers.set(key, { pending: info.num_pending, atMs: Date.now() });
    return info.num_pending;
  };
}

/** The engine's metric sources and health checks, read at each scrape. */
export function engineObservability(deps: ObservabilityDeps): EngineObservability {
  const { singletons } = deps;
  const askServer = consumerInfoEvery(deps.jsm, limits.consumerLagInfoIntervalMs);
  const metrics = engineMetrics({
    actors: () => deps.supervisorStats(),
    async consumerLag() {
      // The partitions this instance consumes (each instance reports its own), and me_db's consumer
      // (unfiltered, so its info is cheap; absent until a leader runs me_db).
      const commandStream = deps.names.commandStream;
      const found = await Promise.all([
        ...deps.ownedPartitionsPending().map(async ({ partition, pending }) => {
          const consumer = deps.names.commandConsumer(partition);
          return { stream: commandStream, consumer, pending: pending ?? await askServer(commandStream, consumer) };
        }),
        (async () => {
          const pending = await deps.jsm.consumers.info(deps.names.meBalanceStream, deps.names.meDbConsumer).then((info) => info.num_pending, () => null);
          return { stream: deps.names.meBalanceStream, consumer: deps.names.meDbConsumer, pending };
        })(),
      ]);
      return found.filter((lag): lag is { stream: string; consumer: string; pending: number } => lag.pending !== null);
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

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric of the engine, named `recon_…` (docs/contract.md, "Metrics"). Event
 * counters live in the process registry and are bumped where the event happens; figures that
 * are state (live actors, consumer lag, open breaks) are read when scraped, from the sources an
 * engine registers with `engineMetrics`.
 */
export const processRegistry = new Registry();
collectDefaultMetrics({ register: processRegistry, prefix: 'recon_process_' });

export const commandsProcessed = new Counter({
  name: 'recon_commands_processed_total',
  help: 'Account commands settled, by kind and outcome (accepted, or the error code; parked)',
  labelNames: ['kind', 'outcome'] as const,
  registers: [processRegistry],
});

export const transitions = new Counter({
  name: 'recon_transitions_total',
  help: 'Accepted account transitions by FSM edge',
  labelNames: ['from', 'to'] as const,
  registers: [processRegistry],
});

export const commandLatency = new Histogram({
  name: 'recon_command_latency_seconds',
  help: 'From a command landing on its stream to its effects being durable and its outcome sent',
  labelNames: ['kind'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [processRegistry],
});

/** A partition consumer's delivery sequence skipped: a delivery was lost in transit and the consumer rewound (ADR 0031). */
export const intakeDeliveryGaps = new Counter({
  name: 'recon_intake_delivery_gaps_total',
  help: 'Command deliveries found lost in transit (a gap in a partition consumer\'s delivery sequence), each followed by a rewind to the ack floor',
  labelNames: ['partition'] as const,
  registers: [processRegistry],
});

/** The close observes each step's duration here (`eodStepDuration.observe({ step, outcome }, seconds)`). */
export const eodStepDuration = new Histogram({
  name: 'recon_eod_step_duration_seconds',
  help: 'Duration of each EOD step run, by step name and outcome (completed, failed)',
  labelNames: ['step', 'outcome'] as const,
  buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800],
  registers: [processRegistry],
});

/** A settled account command: counted, its edge counted, its latency observed. */
export function observeCommand(
  command: { kind: string },
  settlement: { kind: 'done'; result: { ok: true; from: string | null; to: string } | { ok: false; error: { code: string } } } | { kind: 'parked' },
  landedAtMs: number,
): void {
  const outcome = settlement.kind === 'parked' ? 'parked' : settlement.result.ok ? 'accepted' : settlement.result.error.code;
  commandsProcessed.inc({ kind: command.kind, outcome });
  if (settlement.kind === 'done' && settlement.result.ok) transitions.inc({ from: settlement.result.from ?? 'new', to: settlement.result.to });
  commandLatency.observe({ kind: command.kind }, Math.max(0, Date.now() - landedAtMs) / 1000);
}

/** What an engine tells the metrics about its state, read at each scrape. */
export interface EngineMetricSources {
  actors(): { liveActors: number; passivated: number; restarts: number; transientRetries: number };
  /** num_pending of each durable consumer the engine reads from. */
  consumerLag(): Promise<Array<{ stream: string; consumer: string; pending: number }>>;
  parkedMessages(): Promise<number>;
  /** Live breaks (open or acknowledged; accepted ones do not count) on this instance's reconcilers. */
  openBreaks(): Array<{ boundary: string; kind: string }>;
  /** Seconds since each running reconciler last compared a delta (null before the first). */
  reconcilerLag(): Array<{ boundary: string; seconds: number | null }>;
  /** The command path's circuit breaker (ADR 0028). */
  intakeBreaker(): { state: 'closed' | 'open' | 'half_open'; dependency: 'nats' | 'postgres' | null; opens: number };
}

const breakerStateValue = { closed: 0, half_open: 1, open: 2 } as const;

/** A registry for one engine's state metrics; `/metrics` serves it merged with the process registry. */
export function engineMetrics(sources: EngineMetricSources): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'recon_actors_live', help: 'Account actors in memory', registers: [registry],
    collect() {
      this.set(sources.actors().liveActors);
    },
  });
  new Gauge({
    name: 'recon_actors_passivated', help: 'Account actors passivated (stopped when idle) since start', registers: [registry],
    collect() {
      this.set(sources.actors().passivated);
    },
  });
  new Gauge({
    name: 'recon_actor_restarts', help: 'Account actor restarts after a fault since start (what the restart budget, COMMAND_RESTARTS_MAX a minute, counts)', registers: [registry],
    collect() {
      this.set(sources.actors().restarts);
    },
  });
  new Gauge({
    name: 'recon_actor_transient_retries', help: 'Account command retries after a transient NATS or Postgres failure since start (not counted in the restart budget)', registers: [registry],
    collect() {
      this.set(sources.actors().transientRetries);
    },
  });
  new Gauge({
    name: 'recon_consumer_pending_messages', help: 'Messages not yet delivered to each durable consumer (num_pending)', labelNames: ['stream', 'consumer'] as const, registers: [registry],
    async collect() {
      this.reset();
      for (const lag of await sources.consumerLag()) this.set({ stream: lag.stream, consumer: lag.consumer }, lag.pending);
    },
  });
  new Gauge({
    name: 'recon_parked_messages', help: 'Messages parked after exhausting their attempts (parked_commands)', registers: [registry],
    async collect() {
      this.set(await sources.parkedMessages());
    },
  });
  new Gauge({
    name: 'recon_breaks_open', help: 'Live breaks not accepted, by boundary and kind', labelNames: ['boundary', 'kind'] as const, registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, { boundary: string; kind: string; n: number }>();
      for (const b of sources.openBreaks()) {
        const key = `${b.boundary}/${b.kind}`;
        const entry = counts.get(key) ?? { boundary: b.boundary, kind: b.kind, n: 0 };
        entry.n++;
        counts.set(key, entry);
      }
      for (const { boundary, kind, n } of counts.values()) this.set({ boundary, kind }, n);
    },
  });
  new Gauge({
    name: 'recon_reconciler_lag_seconds', help: 'Seconds since each running reconciler last compared a delta', labelNames: ['boundary'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const lag of sources.reconcilerLag()) if (lag.seconds !== null) this.set({ boundary: lag.boundary }, lag.seconds);
    },
  });
  new Gauge({
    name: 'recon_intake_breaker_state', help: 'The command intake\'s circuit breaker: 0 closed, 1 half-open (probing), 2 open (intake paused)', registers: [registry],
    collect() {
      this.set(breakerStateValue[sources.intakeBreaker().state]);
    },
  });
  new Gauge({
    name: 'recon_intake_paused', help: 'The command intake is paused (breaker open or half-open) because this dependency is slow or unavailable', labelNames: ['dependency'] as const, registers: [registry],
    collect() {
      const { state, dependency } = sources.intakeBreaker();
      for (const name of ['nats', 'postgres'] as const) this.set({ dependency: name }, state !== 'closed' && dependency === name ? 1 : 0);
    },
  });
  new Gauge({
    name: 'recon_intake_breaker_opens', help: 'Times the command intake\'s circuit breaker opened since start', registers: [registry],
    collect() {
      this.set(sources.intakeBreaker().opens);
    },
  });
  return registry;
}

/** The Prometheus text of the process registry and an engine's. */
export async function metricsText(engine: Registry | null): Promise<{ contentType: string; body: string }> {
  const merged = engine ? Registry.merge([processRegistry, engine]) : processRegistry;
  return { contentType: merged.contentType, body: await merged.metrics() };
}

import type { Logger } from '../observability/logger.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { classifyFailure, type Dependency } from './failure-class.js';
import { Mailbox } from './mailbox.js';

/** An actor as the supervisor sees it: one message at a time, state of its own. */
export interface SupervisedActor<M, R> {
  handle(message: M): Promise<R>;
}

export type Settlement<R> =
  | { kind: 'done'; result: R }
  | { kind: 'parked'; error: string; attempts: number };

/** One message for the actor named `key`, with the hooks of where it came from (e.g. a JetStream message). */
export interface Delivery<M, R> {
  key: string;
  message: M;
  /** Called once the message's effects (or its parking) are durable: this is where it is acked. */
  settle(settlement: Settlement<R>): void | Promise<void>;
  /** Durably keeps a message the actor could not handle (idempotent); `settle` follows. */
  park(error: string, attempts: number): Promise<void>;
  /** Called between retries so the source does not redeliver a message that is still being worked on. */
  inProgress?(): void;
}

export interface SupervisorLimits {
  liveActorsMax: number;
  mailboxDepthMax: number;
  idleMs: number;
  /** Tries of one message (the first included) before it is parked. */
  attemptsMax: number;
  /**
   * Tries before a message is parked when its last failure was transient but its own (others
   * succeeded meanwhile): more than `attemptsMax`, since under load a dependency can time out for
   * some commands and not others, and a valid command should outlast that (ADR 0028).
   */
  transientOwnAttemptsMax: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** More restarts than this inside `restartWindowMs`, across all actors, is a systemic failure: escalate. */
  restartsMax: number;
  restartWindowMs: number;
}

export interface SupervisorOptions<M, R> {
  name: string;
  limits: SupervisorLimits;
  log: Logger;
  spawn(key: string): SupervisedActor<M, R>;
  /** The restart budget is spent: the supervisor has stopped; its parent decides what next. */
  onEscalate(reason: string): void;
  /** Told of every attempt's outcome; while it is open, no attempt goes (ADR 0028). */
  breaker?: CircuitBreaker;
  /**
   * Asks a dependency directly whether it answers: the evidence, when no other message has
   * succeeded since, that a transient-looking failure is the message's own (ADR 0028, second addendum).
   */
  probe?(dependency: Dependency): Promise<boolean>;
}

export interface SupervisorStats {
  liveActors: number;
  spawned: number;
  passivated: number;
  /** Restarts after a fault: what the restart budget counts. */
  restarts: number;
  /** Retries after a transient failure (a dependency slow or away): not counted in the budget. */
  transientRetries: number;
  /**
   * Transient failures judged the message's own (others succeeded since its previous failure):
   * counted in its attempts, not in the restart budget.
   */
  transientOwn: number;
  parked: number;
  processed: number;
  escalated: boolean;
}

interface Cell<M, R> {
  key: string;
  actor: SupervisedActor<M, R>;
  mailbox: Mailbox<Delivery<M, R>>;
  running: boolean;
  lastActiveMs: number;
}

/**
 * One-for-one supervisor of keyed actors: spawns an actor on its first message, runs each
 * actor's mailbox in order (actors run in parallel with each other), restarts an actor that
 * throws (a fresh incarnation reloads its state) with exponential backoff, parks a message
 * after `attemptsMax` tries, passivates idle actors, and caps how many live at once.
 */
export class Supervisor<M, R> {
  private readonly cells = new Map<string, Cell<M, R>>();
  private readonly restartTimesMs: number[] = [];
  private readonly waitingForSlot: Array<() => void> = [];
  private readonly idleSweep: NodeJS.Timeout;
  private readonly counters = { spawned: 0, passivated: 0, restarts: 0, transientRetries: 0, transientOwn: 0, parked: 0, processed: 0 };
  /** Attempts that succeeded, across all actors: the evidence that a dependency is up. */
  private successes = 0;
  private stopped = false;
  private escalated = false;

  constructor(private readonly options: SupervisorOptions<M, R>) {
    const { limits } = options;
    this.idleSweep = setInterval(() => this.passivateIdle(), Math.max(50, Math.floor(limits.idleMs / 2)));
    this.idleSweep.unref();
  }

  /** Resolves once the delivery is in its actor's mailbox (waits while the mailbox or the actor table is full). */
  async dispatch(delivery: Delivery<M, R>): Promise<void> {
    if (this.stopped) throw new Error(`supervisor ${this.options.name} is stopped`);
    const cell = this.cells.get(delivery.key) ?? (await this.spawnCell(delivery.key));
    cell.lastActiveMs = Date.now();
    // The map's order is least recently used first: eviction takes the first idle cell, O(1) in the usual case.
    this.cells.delete(delivery.key);
    this.cells.set(delivery.key, cell);
    await cell.mailbox.push(delivery);
    if (!cell.running) void this.run(cell);
  }

  stats(): SupervisorStats {
    return { liveActors: this.cells.size, ...this.counters, escalated: this.escalated };
  }

  /** Stops taking messages; whatever is queued stays unsettled (its source redelivers it). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.idleSweep);
    for (const wake of this.waitingForSlot.splice(0)) wake();
    for (const cell of this.cells.values()) cell.mailbox.close();
  }

  private async spawnCell(key: string): Promise<Cell<M, R>> {
    while (this.cells.size >= this.options.limits.liveActorsMax) {
      if (!this.evictOneIdle()) await new Promise<void>((resolve) => this.waitingForSlot.push(resolve));
      if (this.stopped) throw new Error(`supervisor ${this.options.name} is stopped`);
      const existing = this.cells.get(key);
      if (existing) return existing;
    }
    const cell: Cell<M, R> = {
      key,
      actor: this.options.spawn(key),
      mailbox: new Mailbox(this.options.limits.mailboxDepthMax),
      running: false,
      lastActiveMs: Date.now(),
    };
    this.cells.set(key, cell);
    this.counters.spawned++;
    return cell;
  }

  private async run(cell: Cell<M, R>): Promise<void> {
    cell.running = true;
    try {
      for (let delivery = cell.mailbox.peek(); delivery && !this.stopped; delivery = cell.mailbox.peek()) {
        await this.deliver(cell, delivery);
        if (this.stopped) return;
        cell.mailbox.shift();
        cell.lastActiveMs = Date.now();
        this.counters.processed++;
      }
    } finally {
      cell.running = false;
      this.waitingForSlot.shift()?.();
    }
  }

  /**
   * Tries the message until it is handled or parked; only returns early when the supervisor stops.
   * A transient failure replaces the incarnation (its state may be stale: a write that timed out
   * may have landed) but spends neither the restart budget nor the message's attempts, as long as
   * the dependency looks away for everyone. Once other messages have succeeded since this one's
   * previous failure (and the breaker is closed), the failure is this message's own: it counts as
   * an attempt, as a fault does, so the message is parked in the end (ADR 0028).
   */
  private async deliver(cell: Cell<M, R>, delivery: Delivery<M, R>): Promise<void> {
    const { limits, log, breaker } = this.options;
    let attempt = 1;
    let transientInRow = 0;
    /** `successes` at this message's previous failure; null before its first. */
    let successesAtPreviousFailure: number | null = null;
    while (!this.stopped) {
      if (breaker && !(await this.admitted(breaker, delivery))) return;
      let failure: unknown;
      try {
        const result = await cell.actor.handle(delivery.message);
        await delivery.settle({ kind: 'done', result });
        this.successes++;
        breaker?.succeeded();
        return;
      } catch (error) {
        failure = error;
      }
      const message = failure instanceof Error ? failure.message : String(failure);
      const failureClass = classifyFailure(failure);
      // Null at a message's first failure: nothing to compare with yet.
      const succeededElsewhere = successesAtPreviousFailure === null ? null : this.successes - successesAtPreviousFailure;
      successesAtPreviousFailure = this.successes;
      if (failureClass.kind === 'transient') {
        // Read before it is told of this failure: open or half-open, the breaker already says the dependency is away.
        const evidence = await this.dependencyUpEvidence(failureClass.dependency, succeededElsewhere);
        // A dependency that answered its probe is not away: this failure is not the breaker's business.
        if (evidence !== 'probe') breaker?.failedTransiently(failureClass.dependency);
        cell.actor = this.options.spawn(cell.key);
        if (evidence === null) {
          this.counters.transientRetries++;
          signalProgress(delivery);
          const backoffMs = Math.min(limits.backoffMaxMs, limits.backoffInitialMs * 2 ** Math.min(transientInRow++, 30));
          log.debug({ event: 'actor.transient_retry', supervisor: this.options.name, key: cell.key, dependency: failureClass.dependency, backoffMs, err: message }, 'dependency failed; retrying');
          await sleep(backoffMs);
          continue;
        }
        // Not a restart in the budget's sense: many of these at once are more likely a dependency flapping than a bug.
        this.counters.transientOwn++;
        log.warn(
          { event: 'actor.transient_own', supervisor: this.options.name, key: cell.key, dependency: failureClass.dependency, attempt, attemptsMax: limits.transientOwnAttemptsMax, succeededElsewhere, evidence, err: message },
          evidence === 'others'
            ? `${failureClass.dependency} failed this message while others succeeded; counted as an attempt`
            : `${failureClass.dependency} failed this message but answers a probe; counted as an attempt`,
        );
      } else {
        breaker?.faulted();
        this.restart(cell, message, attempt);
      }
      transientInRow = 0;
      if (attempt >= (failureClass.kind === 'fault' ? limits.attemptsMax : limits.transientOwnAttemptsMax)) {
        if (await this.tryPark(delivery, message, attempt)) return;
      }
      signalProgress(delivery);
      const backoffMs = Math.min(limits.backoffMaxMs, limits.backoffInitialMs * 2 ** Math.min(attempt - 1, 30));
      if (failureClass.kind === 'fault') log.warn({ event: 'actor.retry', supervisor: this.options.name, key: cell.key, attempt, backoffMs, err: message }, 'actor failed; restarting');
      await sleep(backoffMs);
      attempt++;
    }
  }

  /**
   * Why a transient-looking failure is the message's own, or null while the dependency may be away
   * for everyone: never at a message's first failure (an outage's start would condemn every message
   * in flight) nor while the breaker is open or half-open; otherwise another message's success
   * since this one's previous failure, or, with no other traffic, the dependency answering a probe.
   */
  private async dependencyUpEvidence(dependency: Dependency, succeededElsewhere: number | null): Promise<'others' | 'probe' | null> {
    const breakerClosed = (this.options.breaker?.state ?? 'closed') === 'closed';
    if (succeededElsewhere === null || !breakerClosed) return null;
    if (succeededElsewhere > 0) return 'others';
    if (this.options.probe && (await this.options.probe(dependency))) return 'probe';
    return null;
  }

  /**
   * Waits until the breaker lets this attempt go; meanwhile tells the source the message is still
   * being worked on, so it is not redelivered while it waits. False: the supervisor stopped.
   */
  private async admitted(breaker: CircuitBreaker, delivery: Delivery<M, R>): Promise<boolean> {
    while (!breaker.tryAdmit()) {
      if (this.stopped) return false;
      signalProgress(delivery);
      await Promise.race([breaker.changed(), sleep(this.options.limits.backoffMaxMs)]);
    }
    return !this.stopped;
  }

  private async tryPark(delivery: Delivery<M, R>, error: string, attempts: number): Promise<boolean> {
    try {
      await delivery.park(error, attempts);
      await delivery.settle({ kind: 'parked', error, attempts });
      this.counters.parked++;
      this.options.log.error({ event: 'actor.parked', supervisor: this.options.name, key: delivery.key, attempts, err: error }, 'message parked');
      return true;
    } catch (parkError) {
      this.options.log.error({ event: 'actor.park_failed', key: delivery.key, err: (parkError as Error).message }, 'could not park message; will retry');
      return false;
    }
  }

  /** A fresh incarnation replaces the failed one; it reloads its state on its next message. */
  private restart(cell: Cell<M, R>, error: string, attempt: number): void {
    cell.actor = this.options.spawn(cell.key);
    this.counters.restarts++;
    const nowMs = Date.now();
    this.restartTimesMs.push(nowMs);
    while ((this.restartTimesMs[0] ?? nowMs) < nowMs - this.options.limits.restartWindowMs) this.restartTimesMs.shift();
    if (this.restartTimesMs.length > this.options.limits.restartsMax && !this.escalated) {
      this.escalated = true;
      const reason = `${this.restartTimesMs.length} restarts within ${this.options.limits.restartWindowMs} ms (last: ${cell.key} attempt ${attempt}: ${error})`;
      this.options.log.fatal({ event: 'supervisor.escalated', supervisor: this.options.name, reason }, 'restart budget spent');
      this.stop();
      this.options.onEscalate(reason);
    }
  }

  private evictOneIdle(): boolean {
    let oldest: Cell<M, R> | undefined;
    for (const cell of this.cells.values()) {
      if (cell.running || cell.mailbox.depth > 0) continue;
      oldest = cell;
      break;
    }
    if (!oldest) return false;
    this.cells.delete(oldest.key);
    this.counters.passivated++;
    return true;
  }

  private passivateIdle(): void {
    const cutoffMs = Date.now() - this.options.limits.idleMs;
    for (const cell of this.cells.values()) {
      if (!cell.running && cell.mailbox.depth === 0 && cell.lastActiveMs < cutoffMs) {
        this.cells.delete(cell.key);
        this.counters.passivated++;
      }
    }
  }
}

/** A progress signal that cannot go (the source's connection closed) is not worth a failure: it is a hint. */
function signalProgress(delivery: { inProgress?(): void }): void {
  try {
    delivery.inProgress?.();
  } catch {
    // The source redelivers after its ack wait; the handler is idempotent.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

import { backoff, type Backoff } from '@nats-io/nats-core';
import type { Logger } from '../observability/logger.js';
import type { Dependency } from './failure-class.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Names the path in logs (`intake.breaker_open` … with `breaker: name`). */
  name: string;
  /** Consecutive transient failures (no success between them) that open the breaker. */
  failuresToOpen: number;
  /** Wait before the first half-open probe; doubles per failed probe (with jitter) up to the max. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  log: Logger;
}

export interface BreakerStatus {
  state: BreakerState;
  /** The dependency whose failures opened the breaker; null while closed. */
  dependency: Dependency | null;
  /** Times opened since start. */
  opens: number;
}

/**
 * The command path's circuit breaker (ADR 0028). Closed: attempts go, and transient failures
 * are counted; `failuresToOpen` of them in a row open it. Open: no attempt goes and the intakes
 * pull nothing (commands wait in their stream, unacked); after a backoff it half-opens. Half-open:
 * one attempt at a time goes as a probe and the intakes may pull again; the probe's success closes
 * it, a transient failure opens it again with a longer backoff, a fault frees the probe's slot.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private openedBy: Dependency | null = null;
  private streak = 0;
  /** Opens since the breaker was last closed: the backoff's attempt number. */
  private opensInRow = 0;
  private opensTotal = 0;
  private openedAtMs = 0;
  private probing = false;
  private halfOpenTimer: NodeJS.Timeout | null = null;
  private wake: () => void = () => undefined;
  private changedSignal: Promise<void>;
  private readonly policy: Backoff;

  constructor(private readonly options: CircuitBreakerOptions) {
    if (!(options.failuresToOpen >= 1) || !(options.backoffInitialMs >= 1) || !(options.backoffMaxMs >= options.backoffInitialMs)) {
      throw new RangeError('circuit breaker: failuresToOpen ≥ 1 and 1 ≤ backoffInitialMs ≤ backoffMaxMs');
    }
    this.changedSignal = this.nextSignal();
    // Doubling from the first wait to the longest; the client's backoff adds jitter (0.5–1.5×).
    const steps: number[] = [];
    for (let ms = options.backoffInitialMs; ms < options.backoffMaxMs; ms *= 2) steps.push(ms);
    this.policy = backoff([...steps, options.backoffMaxMs]);
  }

  get state(): BreakerState {
    return this.current;
  }

  status(): BreakerStatus {
    return { state: this.current, dependency: this.openedBy, opens: this.opensTotal };
  }

  /** Resolves at the next change of state (or of the probe's slot): waiters then look again. */
  changed(): Promise<void> {
    return this.changedSignal;
  }

  /** True if an attempt may go now; in half-open, the caller then holds the probe's slot. */
  tryAdmit(): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  succeeded(): void {
    this.streak = 0;
    // While open, a late success of an attempt admitted before does not close it: the probe decides.
    if (this.current === 'half_open') this.close();
  }

  failedTransiently(dependency: Dependency): void {
    if (this.current === 'open') return;
    if (this.current === 'half_open') {
      this.open(dependency);
      return;
    }
    this.streak++;
    if (this.streak >= this.options.failuresToOpen) this.open(dependency);
  }

  /** A fault says nothing about the dependencies: in half-open, the next attempt probes instead. */
  faulted(): void {
    if (this.current === 'half_open' && this.probing) {
      this.probing = false;
      this.signal();
    }
  }

  /** Stops the half-open timer and wakes every waiter (they find their owner stopped). */
  dispose(): void {
    if (this.halfOpenTimer) clearTimeout(this.halfOpenTimer);
    this.halfOpenTimer = null;
    this.signal();
  }

  private open(dependency: Dependency): void {
    const failures = this.streak;
    const wasHalfOpen = this.current === 'half_open';
    this.current = 'open';
    this.openedBy = dependency;
    this.probing = false;
    this.streak = 0;
    if (!wasHalfOpen) this.openedAtMs = Date.now();
    const retryInMs = Math.round(this.policy.backoff(this.opensInRow));
    this.opensInRow++;
    this.opensTotal++;
    this.halfOpenTimer = setTimeout(() => this.halfOpen(), retryInMs);
    this.halfOpenTimer.unref();
    this.options.log.warn(
      { event: 'intake.breaker_open', breaker: this.options.name, dependency, ...(wasHalfOpen ? { probe: 'failed' } : { consecutiveFailures: failures }), retryInMs },
      `command intake paused: ${dependency} slow or unavailable`,
    );
    this.signal();
  }

  private halfOpen(): void {
    this.halfOpenTimer = null;
    if (this.current !== 'open') return;
    this.current = 'half_open';
    this.options.log.info({ event: 'intake.breaker_half_open', breaker: this.options.name, dependency: this.openedBy }, 'command intake probing');
    this.signal();
  }

  private close(): void {
    const dependency = this.openedBy;
    this.current = 'closed';
    this.openedBy = null;
    this.probing = false;
    this.opensInRow = 0;
    if (this.halfOpenTimer) clearTimeout(this.halfOpenTimer);
    this.halfOpenTimer = null;
    this.options.log.info({ event: 'intake.breaker_closed', breaker: this.options.name, dependency, pausedMs: Date.now() - this.openedAtMs }, 'command intake resumed');
    this.signal();
  }

  private signal(): void {
    const wake = this.wake;
    this.changedSignal = this.nextSignal();
    wake();
  }

  private nextSignal(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    });
  }
}

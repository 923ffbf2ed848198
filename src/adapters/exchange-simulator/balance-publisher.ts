import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from '../../observability/logger.js';
import { balanceEventWireOf, type BalanceEvent } from '../matching-engine/contract.js';

export interface PublisherStats {
  published: number;
  acked: number;
  duplicates: number;
  failed: number;
  inFlight: number;
}

/**
 * Publishes engine balance events to JetStream without waiting for each ack (one connection keeps
 * them in order in the stream), with at most `inFlightMax` unacknowledged at once: the simulator
 * stops generating while the publisher is saturated. `Nats-Msg-Id` is the seq, so a re-send is a no-op.
 */
export class BalancePublisher {
  private readonly counts = { published: 0, acked: 0, duplicates: 0, failed: 0 };
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly js: JetStreamClient,
    private readonly subjectOf: (userId: string) => string,
    private readonly log: Logger,
    readonly inFlightMax: number,
  ) {}

  get saturated(): boolean {
    return this.inFlight >= this.inFlightMax;
  }

  publish(event: BalanceEvent): void {
    this.publishMessage(this.subjectOf(event.userId), JSON.stringify(balanceEventWireOf(event)), String(event.seq), event.seq, event.userId);
  }

  /** Any engine message (a fill) through the same in-flight limit, in order with the balance events. */
  publishMessage(subject: string, payload: string, msgID: string, seq: number, userId: string): void {
    const event = { seq, userId };
    this.inFlight += 1;
    this.counts.published += 1;
    this.js
      .publish(subject, payload, { msgID })
      .then(
        (ack) => {
          this.counts.acked += 1;
          if (ack.duplicate) this.counts.duplicates += 1;
        },
        (error: Error) => {
          // A lost event is a gap the reconciler must see; the simulator does not paper over it.
          this.counts.failed += 1;
          this.log.error({ event: 'sim.publish.failed', seq: event.seq, userId: event.userId, err: error.message }, 'engine event publish failed');
        },
      )
      .finally(() => {
        this.inFlight -= 1;
        if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
  }

  /** Resolves once every event published so far is acknowledged (or failed). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stats(): PublisherStats {
    return { ...this.counts, inFlight: this.inFlight };
  }
}

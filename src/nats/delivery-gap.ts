import type { JsMsg } from '@nats-io/jetstream';

/**
 * A consume of a durable consumer, from one rewind to the next: the delivery sequence of the
 * last message it saw (before the first, the consumer's count when the consume began).
 */
export interface DeliveryCount {
  lastDelivery: number;
}

/** A delivery sequence that skipped: something was delivered to this consume and lost in transit (ADR 0031). */
export interface DeliveryGap {
  expected: number;
  got: number;
  streamSeq: number;
}

/**
 * The consumer numbers its deliveries 1, 2, 3… (redeliveries included), so a number more than
 * one past the last means a delivery this consume never saw. A number not past the last means
 * the consumer was recreated under us (another instance's rewind, a server's restored state):
 * it delivers in stream order from its floor again, so the count restarts from there.
 */
export function deliveryGap(count: DeliveryCount, msg: JsMsg): DeliveryGap | null {
  const got = msg.info.deliverySequence;
  const expected = count.lastDelivery + 1;
  if (got > expected) return { expected, got, streamSeq: msg.seq };
  count.lastDelivery = got;
  return null;
}

/**
 * The wait before a rewind after a gap: none long after the last one; within ack_wait of it,
 * twice the previous wait (from `initialMs`, at most `maxMs`). Two instances briefly pulling one
 * durable (a lease hand-over) see each other's deliveries as gaps, and must not rewind it back
 * and forth in a tight loop.
 */
export class GapRewindBackoff {
  private last = { atMs: 0, backoffMs: 0 };

  constructor(private readonly opts: { ackWaitMs: number; initialMs: number; maxMs: number; nowMs?: () => number }) {}

  next(): number {
    const now = (this.opts.nowMs ?? Date.now)();
    const soon = now - this.last.atMs < this.opts.ackWaitMs;
    const backoffMs = !soon ? 0 : Math.min(Math.max(this.last.backoffMs * 2, this.opts.initialMs), this.opts.maxMs);
    this.last = { atMs: now + backoffMs, backoffMs };
    return backoffMs;
  }
}

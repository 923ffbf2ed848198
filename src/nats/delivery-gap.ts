import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';

/**
 * A consume of a durable consumer, from one rewind to the next: the delivery sequence of the
 * last message it saw (before the first, the consumer's count when the consume began).
 */
export interface DeliveryCount {
  lastDelivery: number;
}

/** A consume of a durable consumer, from one rewind to the next (or to the stop). */
export interface ConsumeSession extends DeliveryCount {
  messages: ConsumerMessages;
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

/** What `consumeAcrossGaps` needs of its owner (the command intake, the me_db reconciler). */
export interface GapRewindingConsumer {
  /** Reads the session until it ends: the gap that ended it, or null (stopped, or nothing more to do). */
  pump(session: ConsumeSession): Promise<DeliveryGap | null>;
  /** Told of each gap before the rewind (log it, count it). */
  onGap(gap: DeliveryGap): void;
  /** Rewinds the consumer to its ack floor and opens the next session; null if stopped meanwhile. */
  reopen(): Promise<ConsumeSession | null>;
  stopped(): boolean;
  /** The session a stop must close from now on (null between two). */
  current(messages: ConsumerMessages | null): void;
}

/**
 * Consumes session after session: a gap ends one, and the next starts at the ack floor (ADR 0031).
 * A session opened while a stop came in is closed unread: its close would wait for a reader.
 */
export async function consumeAcrossGaps(first: ConsumeSession, owner: GapRewindingConsumer): Promise<void> {
  let session: ConsumeSession | null = first;
  while (session) {
    const gap = await owner.pump(session);
    // The pump left the session's loop, which ended it (a close now would wait for that loop).
    owner.current(null);
    if (!gap || owner.stopped()) return;
    owner.onGap(gap);
    session = await owner.reopen();
    if (session && owner.stopped()) {
      void session.messages.close();
      return;
    }
    // Published at once: a stop from here on closes it, and the pump sees that.
    if (session) owner.current(session.messages);
  }
}

/** A wait that ends early when `stopSignal` settles (a stop during a gap's rewind or its retries). */
export async function sleepUnlessStopped(ms: number, stopSignal: Promise<void>): Promise<void> {
  if (ms <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, ms))), stopSignal]);
  clearTimeout(timer);
}

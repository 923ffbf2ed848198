import { AckPolicy, DeliverPolicy, type ConsumerConfig, type ConsumerInfo, type JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';

/**
 * How long each pull of a `consume()` stays open (nats.js: `expires`; its idle heartbeat is half of
 * it). Also how long a consume waits between its checks of the consumer after a reconnect: nats.js
 * backs off by `expires` with jitter (0.5–1.5×), so with its default of 30 s, one failed check
 * after a reconnect (a request timing out under load) left the consume idle for 15–45 s, behind
 * which every new message waited (seen as CI timeouts in the lost-delivery tests). At 5 s a consume
 * re-pulls within 2.5–7.5 s, for one idle pull and two heartbeats per consumer every 5 s.
 */
export const consumePullExpiresMs = 5_000;

export interface DurableConsumerSpec {
  stream: string;
  name: string;
  /**
   * The subjects it reads; null for the whole stream. A filter that is the stream's only subject
   * is not the same to NATS 2.9: it then counts num_pending (every `info`) subject by subject
   * under the stream's lock, and stores to the stream wait meanwhile (ADR 0036).
   */
  filterSubject: string | null;
  ackWaitMs: number;
  inFlightMax: number;
  /** Where a consumer that never existed starts. */
  firstStart: 'all' | 'new';
  /** Cumulative acks (an ack covers every earlier delivery) instead of one per message. */
  ackAll?: boolean;
  /** Deliver headers only, no payload. */
  headersOnly?: boolean;
}

/**
 * Creates the durable pull consumer, or rewinds an existing one to its ack floor, and returns
 * the stream sequence it now starts from (null: from `firstStart`).
 *
 * Why rewind: JetStream redelivers an unacked message only after ack_wait, behind newer
 * messages, so across a crash two messages of one key could be handled out of order. A
 * consumer recreated at its ack floor delivers everything unacked again, in stream order,
 * before anything newer; handlers are idempotent, so what was already applied is skipped.
 * NATS 2.9 has no consumer reset, hence delete and add. A crash between the two loses only
 * the floor: the consumer then starts from `firstStart`, and idempotency still holds.
 */
export async function rewindDurableConsumer(jsm: JetStreamManager, spec: DurableConsumerSpec): Promise<number | null> {
  let startSeq: number | null = null;
  try {
    const info = await jsm.consumers.info(spec.stream, spec.name);
    startSeq = consumerAckFloor(info) + 1;
    await jsm.consumers.delete(spec.stream, spec.name);
  } catch (error) {
    if (!isConsumerNotFound(error)) throw error;
  }
  await jsm.consumers.add(spec.stream, durableConsumerConfig(spec, startSeq ?? spec.firstStart));
  return startSeq;
}

/**
 * The stream seq up to which this consumer has nothing left to deliver or ack. NATS 2.9 reports
 * an ack floor of 0 for a consumer that has acked nothing since it was created at a start
 * sequence, whatever that sequence was (ADR 0038): read as is, a rewind before the first ack
 * would go back to the stream's first message and replay its whole history, and an idle
 * partition would do so at every other restart. Every consumer here is created at a start
 * sequence only when everything before it is done (its previous floor, or a snapshot's seq).
 */
export function consumerAckFloor(info: Pick<ConsumerInfo, 'ack_floor' | 'config'>): number {
  const createdAfter = info.config.deliver_policy === DeliverPolicy.StartSequence ? Math.max(0, (info.config.opt_start_seq ?? 1) - 1) : 0;
  return Math.max(info.ack_floor.stream_seq, createdAfter);
}

/**
 * Creates the durable consumer afresh at `start`, whatever an earlier incarnation left (its
 * acks included): a cold start that trusts nothing the consumer remembers.
 */
export async function recreateDurableConsumerAt(jsm: JetStreamManager, spec: Omit<DurableConsumerSpec, 'firstStart'>, start: number | 'all'): Promise<void> {
  await jsm.consumers.delete(spec.stream, spec.name).catch((error: unknown) => {
    if (!isConsumerNotFound(error)) throw error;
  });
  await jsm.consumers.add(spec.stream, durableConsumerConfig(spec, start));
}

/** The one config of the engine's durable pull consumers, delivering from a stream seq, the stream's start, or new messages only. */
function durableConsumerConfig(spec: Omit<DurableConsumerSpec, 'firstStart'>, start: number | 'all' | 'new'): Partial<ConsumerConfig> {
  return {
    durable_name: spec.name,
    ...(spec.filterSubject === null ? {} : { filter_subject: spec.filterSubject }),
    ack_policy: spec.ackAll ? AckPolicy.All : AckPolicy.Explicit,
    ack_wait: nanos(spec.ackWaitMs),
    max_ack_pending: spec.inFlightMax,
    ...(spec.headersOnly ? { headers_only: true } : {}),
    ...(start === 'all' ? { deliver_policy: DeliverPolicy.All }
      : start === 'new' ? { deliver_policy: DeliverPolicy.New }
      : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start }),
  };
}

const isConsumerNotFound = (error: unknown): boolean => /consumer not found/i.test((error as Error).message);

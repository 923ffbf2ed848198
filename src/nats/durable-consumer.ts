import { AckPolicy, DeliverPolicy, type ConsumerConfig, type JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';

export interface DurableConsumerSpec {
  stream: string;
  name: string;
  filterSubject: string;
  ackWaitMs: number;
  inFlightMax: number;
  /** Where a consumer that never existed starts. */
  firstStart: 'all' | 'new';
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
    startSeq = info.ack_floor.stream_seq + 1;
    await jsm.consumers.delete(spec.stream, spec.name);
  } catch (error) {
    if (!/consumer not found/i.test((error as Error).message)) throw error;
  }
  const config: Partial<ConsumerConfig> = {
    durable_name: spec.name,
    filter_subject: spec.filterSubject,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(spec.ackWaitMs),
    max_ack_pending: spec.inFlightMax,
    ...(startSeq === null
      ? { deliver_policy: spec.firstStart === 'all' ? DeliverPolicy.All : DeliverPolicy.New }
      : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq }),
  };
  await jsm.consumers.add(spec.stream, config);
  return startSeq;
}

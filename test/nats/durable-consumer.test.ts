import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerAckFloor, recreateDurableConsumerAt, rewindDurableConsumer, type DurableConsumerSpec } from '../../src/nats/durable-consumer.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';

/**
 * ADR 0038: NATS 2.9 reports an ack floor of 0 for a consumer that has acked nothing since it was
 * created at a start sequence. A rewind must not read that as "nothing done": it would replay the
 * stream from its first message.
 */
describe('rewinding a durable consumer to its ack floor', () => {
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  const stream = `${testNamespace()}_REWIND`.replace(/[^A-Za-z0-9_-]/g, '_');
  const subject = `${stream}.commands`;
  const spec = (name: string): DurableConsumerSpec => ({ stream, name, filterSubject: null, ackWaitMs: 30_000, inFlightMax: 100, firstStart: 'all' });

  beforeAll(async () => {
    nc = await connect({ servers: sharedNatsUrl() });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [subject] });
    for (let i = 1; i <= 9; i++) await js.publish(subject, `m${i}`);
  });
  afterAll(async () => {
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  });

  async function deliverAndAck(name: string, count: number, ack: boolean): Promise<number[]> {
    const consumer = await js.consumers.get(stream, name);
    const seqs: number[] = [];
    for await (const msg of await consumer.fetch({ max_messages: count, expires: 2_000 })) {
      seqs.push(msg.seq);
      if (ack) await msg.ackAck();
    }
    return seqs;
  }

  it('starts past a consumer\'s start sequence when nothing has been acked since it was created there', async () => {
    await recreateDurableConsumerAt(jsm, spec('created-at-4'), 4);
    // Delivered, never acked: the holder died before its first ack.
    expect(await deliverAndAck('created-at-4', 2, false)).toEqual([4, 5]);
    const info = await jsm.consumers.info(stream, 'created-at-4');
    expect(info.ack_floor.stream_seq).toBe(0); // what NATS 2.9 says: the reason for consumerAckFloor
    expect(consumerAckFloor(info)).toBe(3);

    expect(await rewindDurableConsumer(jsm, spec('created-at-4'))).toBe(4);
    expect(await deliverAndAck('created-at-4', 1, false)).toEqual([4]);
  });

  it('keeps an idle consumer where it was across rewind after rewind', async () => {
    expect(await rewindDurableConsumer(jsm, spec('idle'))).toBeNull(); // first start: from the stream's start
    expect(await deliverAndAck('idle', 9, true)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Restart after restart with nothing new: each one starts past everything acked.
    for (let restart = 0; restart < 3; restart++) {
      expect(await rewindDurableConsumer(jsm, spec('idle'))).toBe(10);
      expect((await jsm.consumers.info(stream, 'idle')).num_pending).toBe(0);
    }
    await js.publish(subject, 'm10');
    expect(await deliverAndAck('idle', 1, false)).toEqual([10]);
    expect(await rewindDurableConsumer(jsm, spec('idle'))).toBe(10);
  });

  it('follows the acks once there are some', async () => {
    await recreateDurableConsumerAt(jsm, spec('acked'), 2);
    expect(await deliverAndAck('acked', 3, true)).toEqual([2, 3, 4]);
    const info = await jsm.consumers.info(stream, 'acked');
    expect(consumerAckFloor(info)).toBe(4);
    expect(await rewindDurableConsumer(jsm, spec('acked'))).toBe(5);
  });
});

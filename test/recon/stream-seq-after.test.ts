import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { ensureBalanceStream } from '../../src/nats/topology.js';
import { streamSeqAfter } from '../../src/recon/me-db/engine-start.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';

/**
 * Where the balance stream is followed from after a snapshot: the first stream seq whose event
 * is past the snapshot's asOfSeq, against a plain walk of the stream, on a real stream with gaps
 * in the engine's seqs and messages deleted from the middle.
 */
let nc: NatsConnection;
let jsm: JetStreamManager;
let names: NatsNames;
/** Stream seq and engine seq of every message left in the stream, in order. */
const stored: Array<{ streamSeq: number; engineSeq: number }> = [];

beforeAll(async () => {
  nc = await connect({ servers: sharedNatsUrl() });
  jsm = await jetstreamManager(nc);
  names = natsNames(testNamespace());
  await ensureBalanceStream(jsm, names);
  const js = jetstream(nc);
  let engineSeq = 0;
  for (let i = 0; i < 300; i++) {
    engineSeq += 1 + (i % 7 === 0 ? 3 : 0); // gaps in the engine's seq now and then
    const userId = `s${i % 11}`;
    const ack = await js.publish(names.meBalanceSubject(userId), JSON.stringify({
      seq: engineSeq, userId, currency: 'BTC', total: '1', locked: '0', available: '1', ts: new Date().toISOString(),
    }));
    stored.push({ streamSeq: ack.seq, engineSeq });
  }
  // Deleted from the middle and near the end: a probe there lands on the next message.
  for (const index of [40, 41, 42, 150, 297]) await jsm.streams.deleteMessage(names.meBalanceStream, stored[index]!.streamSeq);
  for (const index of [297, 150, 42, 41, 40]) stored.splice(index, 1);
});

afterAll(async () => {
  await deleteNamespaceStreams(nc, names);
  await nc?.close();
});

/**
 * The walk's answer as a range: following from any seq after the last message the snapshot
 * holds and up to the first one past it reads the same messages (the seqs between are deleted).
 */
function walked(asOfSeq: number, lastStreamSeq: number): { after: number; atMost: number } {
  const held = stored.filter((m) => m.engineSeq <= asOfSeq).at(-1)?.streamSeq ?? 0;
  return { after: held, atMost: stored.find((m) => m.engineSeq > asOfSeq)?.streamSeq ?? lastStreamSeq + 1 };
}

async function expectFound(asOfSeq: number, lastStreamSeq: number): Promise<void> {
  const found = await streamSeqAfter(jsm, names.meBalanceStream, names.meBalanceSubjectAll, asOfSeq);
  const { after, atMost } = walked(asOfSeq, lastStreamSeq);
  expect(found, `asOfSeq ${asOfSeq}: expected a seq in (${after}, ${atMost}]`).not.toBeNull();
  expect(found! > after && found! <= atMost, `asOfSeq ${asOfSeq}: ${found} not in (${after}, ${atMost}]`).toBe(true);
}

describe('streamSeqAfter', () => {
  it('finds the first event past any asOfSeq, as a walk of the stream does', async () => {
    const { state } = await jsm.streams.info(names.meBalanceStream);
    const lastEngineSeq = stored.at(-1)!.engineSeq;
    const edges = [0, 1, lastEngineSeq - 1, lastEngineSeq, lastEngineSeq + 5, stored[39]!.engineSeq, stored[40]!.engineSeq];
    for (const asOfSeq of edges) await expectFound(asOfSeq, state.last_seq);
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: lastEngineSeq + 10 }), (asOfSeq) => expectFound(asOfSeq, state.last_seq)), { numRuns: 60, seed: 12 });
  });

  it('costs gets by the events past the snapshot, not by the stream: one when there are none', async () => {
    let gets = 0;
    const counting = { ...jsm, streams: Object.assign(Object.create(jsm.streams) as JetStreamManager['streams'], {
      getMessage: (...args: Parameters<JetStreamManager['streams']['getMessage']>) => {
        gets++;
        return jsm.streams.getMessage(...args);
      },
    }) } as JetStreamManager;
    const getsFor = async (eventsPast: number): Promise<number> => {
      gets = 0;
      const asOfSeq = stored[stored.length - 1 - eventsPast]!.engineSeq;
      await streamSeqAfter(counting, names.meBalanceStream, names.meBalanceSubjectAll, asOfSeq);
      return gets;
    };
    expect(await getsFor(0)).toBe(1);
    expect(await getsFor(10)).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(11)) + 2);
    // A binary search over the whole stream (≈ 300 messages) takes log₂ 300 ≈ 9 gets whatever the snapshot.
  });
});

import type { Msg, NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fetchSnapshot, requestSnapshot, SnapshotError, type SnapshotFailureCode } from '../../../src/adapters/matching-engine/snapshot-client.js';
import { natsNames, type NatsNames } from '../../../src/nats/names.js';
import { sharedNatsUrl, testNamespace } from '../../support/nats.js';

/**
 * The client against scripted responders on the real NATS: each test serves `me.snapshot` with
 * whatever replies it wants to check the client's handling of.
 */
let nc: NatsConnection;
let names: NatsNames;

beforeAll(async () => {
  nc = await connect({ servers: sharedNatsUrl() });
});
afterAll(async () => {
  await nc?.close();
});

const subs: { unsubscribe(): void }[] = [];
afterEach(() => {
  for (const sub of subs.splice(0)) sub.unsubscribe();
});

const row = (userId: string, total = '1') => ({ userId, currency: 'BTC', total, locked: '0', available: total });

/** Serves `me.snapshot` in a fresh namespace with a script of replies built from the request. */
async function serve(script: (request: { requestId: string; chunkSize: number }) => unknown[]): Promise<void> {
  names = natsNames(testNamespace());
  const sub = nc.subscribe(names.meSnapshotSubject, {
    callback: (_, msg: Msg) => {
      for (const reply of script(msg.json())) nc.publish(msg.reply as string, typeof reply === 'string' ? reply : JSON.stringify(reply));
    },
  });
  subs.push(sub);
  await nc.flush();
}

async function failure(promise: Promise<unknown>): Promise<{ code: SnapshotFailureCode; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SnapshotError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a SnapshotError');
}

async function drain(chunkSize: number, timeoutMs = 500): Promise<number> {
  let n = 0;
  for await (const _ of requestSnapshot(nc, names, { chunkSize, timeoutMs })) n += 1;
  return n;
}

describe('requestSnapshot / fetchSnapshot', () => {
  it('collects chunks in order, each at most chunkSize rows, until last', async () => {
    await serve(({ requestId }) => [
      { requestId, asOfSeq: 40, chunk: 0, last: false, balances: [row('a'), row('b')] },
      { requestId, asOfSeq: 40, chunk: 1, last: false, balances: [row('c'), row('d')] },
      { requestId, asOfSeq: 40, chunk: 2, last: true, balances: [row('e')] },
    ]);
    const result = await fetchSnapshot(nc, names, { chunkSize: 2, timeoutMs: 2_000 });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.snapshot.asOfSeq).toBe(40);
    expect(result.snapshot.chunkCount).toBe(3);
    expect(result.snapshot.balances.map((b) => b.userId)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(result.snapshot.balances[0]?.totalMinor).toBe(10n ** 18n);
  });

  it('accepts an empty engine as one empty last chunk', async () => {
    await serve(({ requestId }) => [{ requestId, asOfSeq: 0, chunk: 0, last: true, balances: [] }]);
    expect(await fetchSnapshot(nc, names, { chunkSize: 10, timeoutMs: 2_000 })).toMatchObject({ ok: true, snapshot: { asOfSeq: 0, balances: [] } });
  });

  it('fails with GAP when a chunk is missing', async () => {
    await serve(({ requestId }) => [
      { requestId, asOfSeq: 5, chunk: 0, last: false, balances: [row('a')] },
      { requestId, asOfSeq: 5, chunk: 2, last: true, balances: [row('c')] },
    ]);
    expect(await failure(drain(1))).toMatchObject({ code: 'GAP', message: expect.stringMatching(/expected chunk 1, got 2/) });
  });

  it('fails with TIMEOUT when the engine goes quiet before last', async () => {
    await serve(({ requestId }) => [{ requestId, asOfSeq: 5, chunk: 0, last: false, balances: [row('a')] }]);
    expect(await failure(drain(1, 300))).toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/no chunk 1 within 300 ms/) });
  });

  it('fails with NO_RESPONDER when nobody serves me.snapshot', async () => {
    names = natsNames(testNamespace());
    expect(await failure(drain(1, 2_000))).toMatchObject({ code: 'NO_RESPONDER' });
  });

  it('fails with INVALID_CHUNK on a malformed chunk, a changed asOfSeq, an oversized chunk, or a repeated row', async () => {
    await serve(() => ['{not json']);
    expect((await failure(drain(1))).code).toBe('INVALID_CHUNK');

    await serve(({ requestId }) => [
      { requestId, asOfSeq: 5, chunk: 0, last: false, balances: [row('a')] },
      { requestId, asOfSeq: 6, chunk: 1, last: true, balances: [row('b')] },
    ]);
    expect(await failure(drain(1))).toMatchObject({ code: 'INVALID_CHUNK', message: expect.stringMatching(/asOfSeq changed from 5 to 6/) });

    await serve(({ requestId }) => [{ requestId, asOfSeq: 5, chunk: 0, last: true, balances: [row('a'), row('b')] }]);
    expect(await failure(drain(1))).toMatchObject({ code: 'INVALID_CHUNK', message: expect.stringMatching(/more than chunkSize 1/) });

    await serve(({ requestId }) => [{ requestId, asOfSeq: 5, chunk: 0, last: true, balances: [row('a'), row('a')] }]);
    const result = await fetchSnapshot(nc, names, { chunkSize: 5, timeoutMs: 500 });
    expect(result).toMatchObject({ ok: false, error: { code: 'INVALID_CHUNK', message: expect.stringMatching(/a\/BTC listed twice/) } });
  });

  it('fails with INVALID_CHUNK on a row that breaks total = locked + available', async () => {
    await serve(({ requestId }) => [{ requestId, asOfSeq: 5, chunk: 0, last: true, balances: [{ ...row('a'), total: '7' }] }]);
    expect(await failure(drain(5))).toMatchObject({ code: 'INVALID_CHUNK', message: expect.stringMatching(/total 7 ≠ locked 0 \+ available 1/) });
  });

  it('fails with ENGINE_ERROR when the engine refuses', async () => {
    await serve(({ requestId }) => [{ requestId, error: { code: 'BUSY', message: '4 snapshots in progress' } }]);
    expect(await failure(drain(5))).toMatchObject({ code: 'ENGINE_ERROR', message: expect.stringMatching(/BUSY: 4 snapshots in progress/) });
  });

  it('refuses a chunkSize outside 1…1000 before asking', async () => {
    names = natsNames(testNamespace());
    await expect(drain(0)).rejects.toThrow(RangeError);
    await expect(drain(1_001)).rejects.toThrow(RangeError);
  });

  it('lets the caller break out after the first chunk (the finally block unsubscribes)', async () => {
    await serve(({ requestId }) => [
      { requestId, asOfSeq: 5, chunk: 0, last: false, balances: [row('a')] },
      { requestId, asOfSeq: 5, chunk: 1, last: true, balances: [row('b')] },
    ]);
    const seen: number[] = [];
    for await (const chunk of requestSnapshot(nc, names, { chunkSize: 1, timeoutMs: 2_000 })) {
      seen.push(chunk.chunk);
      break;
    }
    expect(seen).toEqual([0]);
  });
});

import { randomUUID } from 'node:crypto';
import { createInbox, type Msg, type NatsConnection } from '@nats-io/nats-core';
import type { NatsNames } from '../../nats/names.js';
import { parseSnapshotReply, snapshotLimits, type BalanceRow, type SnapshotChunk, type SnapshotRequest } from './contract.js';

export type SnapshotFailureCode = 'TIMEOUT' | 'NO_RESPONDER' | 'GAP' | 'INVALID_CHUNK' | 'ENGINE_ERROR' | 'TOO_LARGE';

/** A snapshot that could not be taken; `code` says why, the message says where. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
  constructor(
    readonly code: SnapshotFailureCode,
    message: string,
  ) {
    super(message);
  }
}

export interface SnapshotOptions {
  /** Rows per chunk the engine may send, 1…snapshotLimits.chunkSizeMax. */
  chunkSize: number;
  /** Longest silence allowed before the first chunk and between chunks. */
  timeoutMs: number;
  requestId?: string;
  /** Refuse a snapshot larger than this many rows (a limit on what we buffer). */
  rowsMax?: number;
}

export interface Snapshot {
  requestId: string;
  asOfSeq: number;
  chunkCount: number;
  balances: BalanceRow[];
}

const rowsMaxDefault = 10_000_000;
/** Chunks received but not yet consumed; the engine streams faster than a slow consumer reads. */
const bufferedChunksMax = 10_000;

/**
 * Requests a snapshot on `me.snapshot` and yields its chunks in order, each validated.
 * Throws SnapshotError on timeout, no responder, a gap or repeat in chunk numbers, a changed
 * asOfSeq or requestId, an oversized chunk, or an engine error reply. Breaking out of the loop
 * unsubscribes.
 */
export async function* requestSnapshot(nc: NatsConnection, names: NatsNames, options: SnapshotOptions): AsyncGenerator<SnapshotChunk> {
  const { chunkSize, timeoutMs } = options;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > snapshotLimits.chunkSizeMax) {
    throw new RangeError(`chunkSize must be an integer in 1…${snapshotLimits.chunkSizeMax}, got ${chunkSize}`);
  }
  const requestId = options.requestId ?? randomUUID();
  const rowsMax = options.rowsMax ?? rowsMaxDefault;
  const inbox = createInbox();

  // A callback subscription feeds a queue so that every wait can have its own timer.
  const queue: Msg[] = [];
  let wake: (() => void) | null = null;
  let overflowed = false;
  const sub = nc.subscribe(inbox, {
    callback: (error, msg) => {
      if (error) return;
      if (queue.length >= bufferedChunksMax) overflowed = true;
      else queue.push(msg);
      wake?.();
    },
  });

  const next = async (waitingFor: string): Promise<Msg> => {
    while (queue.length === 0) {
      if (overflowed) throw new SnapshotError('TOO_LARGE', `snapshot ${requestId}: more than ${bufferedChunksMax} chunks buffered`);
      const arrived = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      wake = null;
      if (!arrived) throw new SnapshotError('TIMEOUT', `snapshot ${requestId}: no ${waitingFor} within ${timeoutMs} ms`);
    }
    return queue.shift() as Msg;
  };

  try {
    const request: SnapshotRequest = { requestId, chunkSize };
    nc.publish(names.meSnapshotSubject, JSON.stringify(request), { reply: inbox });
    let expected = 0;
    let asOfSeq: number | null = null;
    let rows = 0;
    for (;;) {
      const msg = await next(expected === 0 ? 'first chunk' : `chunk ${expected}`);
      if (msg.headers?.code === 503) throw new SnapshotError('NO_RESPONDER', `snapshot ${requestId}: nobody serves ${names.meSnapshotSubject}`);
      const reply = parseSnapshotReply(msg.data);
      if (!reply.ok) throw new SnapshotError('INVALID_CHUNK', `snapshot ${requestId}, chunk ${expected}: ${reply.reason}`);
      if (reply.kind === 'error') throw new SnapshotError('ENGINE_ERROR', `snapshot ${requestId}: engine refused: ${reply.error.code}: ${reply.error.message}`);
      const chunk = reply.chunk;
      if (chunk.requestId !== requestId) throw new SnapshotError('INVALID_CHUNK', `snapshot ${requestId}: chunk for another request "${chunk.requestId}"`);
      if (chunk.chunk !== expected) throw new SnapshotError('GAP', `snapshot ${requestId}: expected chunk ${expected}, got ${chunk.chunk}`);
      if (asOfSeq !== null && chunk.asOfSeq !== asOfSeq) {
        throw new SnapshotError('INVALID_CHUNK', `snapshot ${requestId}: asOfSeq changed from ${asOfSeq} to ${chunk.asOfSeq} at chunk ${expected}`);
      }
      if (chunk.balances.length > chunkSize) {
        throw new SnapshotError('INVALID_CHUNK', `snapshot ${requestId}: chunk ${expected} has ${chunk.balances.length} rows, more than chunkSize ${chunkSize}`);
      }
      rows += chunk.balances.length;
      if (rows > rowsMax) throw new SnapshotError('TOO_LARGE', `snapshot ${requestId}: more than ${rowsMax} rows`);
      asOfSeq = chunk.asOfSeq;
      expected += 1;
      yield chunk;
      if (chunk.last) return;
    }
  } finally {
    sub.unsubscribe();
  }
}

export type SnapshotResult = { ok: true; snapshot: Snapshot } | { ok: false; error: SnapshotError };

/** Collects a whole snapshot, refusing one that lists a (user, currency) twice. Failures are values. */
export async function fetchSnapshot(nc: NatsConnection, names: NatsNames, options: SnapshotOptions): Promise<SnapshotResult> {
  const requestId = options.requestId ?? randomUUID();
  const balances: BalanceRow[] = [];
  const seen = new Set<string>();
  let asOfSeq = 0;
  let chunkCount = 0;
  try {
    for await (const chunk of requestSnapshot(nc, names, { ...options, requestId })) {
      for (const row of chunk.balances) {
        const key = `${row.userId}\u0000${row.currency}`;
        if (seen.has(key)) throw new SnapshotError('INVALID_CHUNK', `snapshot ${requestId}: ${row.userId}/${row.currency} listed twice`);
        seen.add(key);
        balances.push(row);
      }
      asOfSeq = chunk.asOfSeq;
      chunkCount += 1;
    }
  } catch (error) {
    if (error instanceof SnapshotError) return { ok: false, error };
    throw error;
  }
  return { ok: true, snapshot: { requestId, asOfSeq, chunkCount, balances } };
}

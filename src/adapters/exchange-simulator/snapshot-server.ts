import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import type { NatsNames } from '../../nats/names.js';
import type { Logger } from '../../observability/logger.js';
import {
  snapshotChunkWireOf,
  snapshotRequestSchema,
  type BalanceRow,
  type SnapshotErrorCode,
  type SnapshotErrorWire,
} from '../matching-engine/contract.js';

export const snapshotServerLimits = {
  /** Snapshots being streamed at once; more are refused with BUSY rather than queued without bound. */
  concurrentMax: 4,
  /** Flush after this many chunks so a large snapshot does not pile up in the client's outbound buffer. */
  chunksPerFlush: 16,
} as const;

/**
 * Answers `me.snapshot` for the simulated engine. The copy is taken synchronously when the request
 * arrives, so it is exactly the state as of `asOfSeq`; the chunks are then streamed to the reply
 * subject, numbered from 0, the final one marked `last` (an empty registry is one empty last chunk).
 */
export function serveSnapshots(
  nc: NatsConnection,
  names: NatsNames,
  takeSnapshot: () => { asOfSeq: number; rows: BalanceRow[] },
  log: Logger,
): Subscription {
  let active = 0;
  const refuse = (msg: Msg, code: SnapshotErrorCode, message: string, requestId?: string): void => {
    const reply: SnapshotErrorWire = { error: { code, message }, ...(requestId ? { requestId } : {}) };
    if (msg.reply) nc.publish(msg.reply, JSON.stringify(reply));
  };

  const stream = async (reply: string, requestId: string, chunkSize: number): Promise<void> => {
    const { asOfSeq, rows } = takeSnapshot();
    const chunkCount = Math.max(1, Math.ceil(rows.length / chunkSize));
    for (let chunk = 0; chunk < chunkCount; chunk++) {
      const balances = rows.slice(chunk * chunkSize, (chunk + 1) * chunkSize);
      nc.publish(reply, JSON.stringify(snapshotChunkWireOf({ requestId, asOfSeq, chunk, last: chunk === chunkCount - 1, balances })));
      if ((chunk + 1) % snapshotServerLimits.chunksPerFlush === 0) await nc.flush();
    }
    log.info({ event: 'sim.snapshot.served', requestId, asOfSeq, rows: rows.length, chunks: chunkCount }, 'snapshot served');
  };

  return nc.subscribe(names.meSnapshotSubject, {
    callback: (error, msg) => {
      if (error || !msg.reply) return;
      let body: unknown;
      try {
        body = msg.json();
      } catch {
        return refuse(msg, 'INVALID_REQUEST', 'request is not JSON');
      }
      const parsed = snapshotRequestSchema.safeParse(body);
      if (!parsed.success) return refuse(msg, 'INVALID_REQUEST', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      const { requestId, chunkSize } = parsed.data;
      if (active >= snapshotServerLimits.concurrentMax) return refuse(msg, 'BUSY', `${active} snapshots in progress`, requestId);
      active += 1;
      const reply = msg.reply;
      stream(reply, requestId, chunkSize)
        .catch((err: Error) => {
          log.error({ event: 'sim.snapshot.failed', requestId, err: err.message }, 'snapshot failed');
          refuse(msg, 'INTERNAL', err.message, requestId);
        })
        .finally(() => {
          active -= 1;
        });
    },
  });
}

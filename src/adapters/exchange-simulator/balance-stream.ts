import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { NatsNames } from '../../nats/names.js';
import { ensureBalanceStream as ensureStream } from '../../nats/topology.js';

export { balanceDedupWindowMs, balanceStreamMaxAgeMs, ensureFillStream } from '../../nats/topology.js';

/**
 * Creates the `me.balance.>` stream if it is missing (src/nats/topology.ts) and returns the
 * seq of the last event in it, so a restarted simulator keeps the engine sequence strictly
 * increasing.
 */
export async function ensureBalanceStream(nc: NatsConnection, names: NatsNames): Promise<{ jsm: JetStreamManager; lastSeq: number }> {
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, names);
  const info = await jsm.streams.info(names.meBalanceStream);
  return { jsm, lastSeq: await lastEventSeq(jsm, names.meBalanceStream, info.state.last_seq) };
}

async function lastEventSeq(jsm: JetStreamManager, stream: string, lastStreamSeq: number): Promise<number> {
  if (lastStreamSeq === 0) return 0;
  const stored = await jsm.streams.getMessage(stream, { seq: lastStreamSeq }).catch(() => null);
  if (!stored) return 0;
  try {
    const seq = (stored.json() as { seq?: unknown }).seq;
    return typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0 ? seq : 0;
  } catch {
    return 0; // not ours to judge here; the reconciler parks what breaks the contract
  }
}

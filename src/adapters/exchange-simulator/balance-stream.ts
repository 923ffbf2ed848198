import { jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import type { NatsNames } from '../../nats/names.js';

/** Long enough for a restarted publisher to re-send, short enough to keep the server's id set small. */
export const balanceDedupWindowMs = 2 * 60_000;
/** The stream is a feed, not the books: the reconciler starts from a snapshot, so a day is plenty. */
export const balanceStreamMaxAgeMs = 24 * 60 * 60_000;

const isNotFound = (error: unknown): boolean =>
  (error as Error).name === 'StreamNotFoundError' || /stream not found/i.test((error as Error).message);

/**
 * Creates the `me.balance.>` stream if it is missing; an existing stream (perhaps made by the
 * reconciler) is left as it is. Returns the seq of the last event in it, so a restarted simulator
 * keeps the engine sequence strictly increasing.
 */
export async function ensureBalanceStream(nc: NatsConnection, names: NatsNames): Promise<{ jsm: JetStreamManager; lastSeq: number }> {
  const jsm = await jetstreamManager(nc);
  try {
    const info = await jsm.streams.info(names.meBalanceStream);
    return { jsm, lastSeq: await lastEventSeq(jsm, names.meBalanceStream, info.state.last_seq) };
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  try {
    await jsm.streams.add({
      name: names.meBalanceStream,
      subjects: [names.meBalanceSubjectAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(balanceStreamMaxAgeMs),
      duplicate_window: nanos(balanceDedupWindowMs),
    });
  } catch (error) {
    // Someone else created it between our info and add: theirs stands.
    if (!/already in use/i.test((error as Error).message)) throw error;
  }
  return { jsm, lastSeq: 0 };
}

/** Creates the `me.fill.>` stream if missing (the engine's topology makes the same one). */
export async function ensureFillStream(jsm: JetStreamManager, names: NatsNames): Promise<void> {
  try {
    await jsm.streams.info(names.meFillStream);
    return;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  await jsm.streams.add({ name: names.meFillStream, subjects: [names.meFillSubjectAll], retention: RetentionPolicy.Limits, storage: StorageType.File, duplicate_window: nanos(balanceDedupWindowMs) })
    .catch((error: Error) => {
      if (!/already in use/i.test(error.message)) throw error;
    });
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

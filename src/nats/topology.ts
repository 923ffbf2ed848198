import { jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import type { NatsNames } from './names.js';

/** How long JetStream remembers a Nats-Msg-Id: a repeat inside this window is dropped by the server. */
export const commandDedupWindowMs = 10 * 60_000;
export const eventDedupWindowMs = 60 * 60_000;
/** Engine balance events: long enough for a restarted publisher to re-send, short enough to keep the server's id set small. */
export const balanceDedupWindowMs = 2 * 60_000;
/** The balance stream is a feed, not the books: the reconciler starts from a snapshot, so a day is plenty. */
export const balanceStreamMaxAgeMs = 24 * 60 * 60_000;

export interface Topology {
  jsm: JetStreamManager;
  accounts: KV;
  leases: KV;
}

async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (error) {
    if ((error as Error).name !== 'StreamNotFoundError' && !/stream not found/i.test((error as Error).message)) throw error;
    await jsm.streams.add(config);
  }
}

const isStreamNotFound = (error: unknown): boolean =>
  (error as Error).name === 'StreamNotFoundError' || /stream not found/i.test((error as Error).message);

/** Creates the stream if it is missing; an existing one (another instance's, or the exchange's own) is left as it is. */
async function ensureStreamIfMissing(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    return;
  } catch (error) {
    if (!isStreamNotFound(error)) throw error;
  }
  try {
    await jsm.streams.add(config);
  } catch (error) {
    // Created by someone else between our info and add: theirs stands.
    if (!/already in use|already exists/i.test((error as Error).message)) throw error;
  }
}

/** The matching engine's `me.balance.>` stream (the exchange may run its own: then it is left as it is). */
export function ensureBalanceStream(jsm: JetStreamManager, names: NatsNames): Promise<void> {
  return ensureStreamIfMissing(jsm, {
    name: names.meBalanceStream, subjects: [names.meBalanceSubjectAll], retention: RetentionPolicy.Limits, storage: StorageType.File,
    max_age: nanos(balanceStreamMaxAgeMs), duplicate_window: nanos(balanceDedupWindowMs),
  });
}

/** The matching engine's `me.fill.>` stream, when something runs without the engine's topology (the simulator). */
export function ensureFillStream(jsm: JetStreamManager, names: NatsNames): Promise<void> {
  return ensureStreamIfMissing(jsm, {
    name: names.meFillStream, subjects: [names.meFillSubjectAll], retention: RetentionPolicy.Limits, storage: StorageType.File,
    duplicate_window: nanos(eventDedupWindowMs),
  });
}

/** Custody withdrawal pause / resume events of the db_custody reconciler. */
export function ensureCustodyStream(jsm: JetStreamManager, names: NatsNames): Promise<void> {
  return ensureStreamIfMissing(jsm, {
    name: names.custodyStream, subjects: [names.custodySubjectAll], retention: RetentionPolicy.Limits, storage: StorageType.File,
    duplicate_window: nanos(eventDedupWindowMs),
  });
}

/** The recon alerts stream, when a reconciler runs without the engine's topology (tests, tools). */
export function ensureReconStream(jsm: JetStreamManager, names: NatsNames): Promise<void> {
  return ensureStreamIfMissing(jsm, {
    name: names.reconStream, subjects: [names.reconSubjectAll], retention: RetentionPolicy.Limits, storage: StorageType.File,
    duplicate_window: nanos(eventDedupWindowMs),
  });
}

/** Creates (or updates) the engine's streams (commands, account events, recon alerts) and buckets. Idempotent. */
export async function ensureAccountTopology(nc: NatsConnection, names: NatsNames, leaseTtlMs = 10_000, accountEventsMaxAgeMs = 0): Promise<Topology> {
  const jsm = await jetstreamManager(nc);
  const streams: Array<[name: string, subject: string, dedupWindowMs: number, maxAgeMs: number]> = [
    [names.commandStream, names.commandSubjectAll, commandDedupWindowMs, 0],
    // What an auditor can replay, and for how long (ACCOUNT_EVENTS_MAX_AGE_DAYS; 0 = forever).
    [names.eventStream, names.eventSubjectAll, eventDedupWindowMs, accountEventsMaxAgeMs],
    [names.reconStream, names.reconSubjectAll, eventDedupWindowMs, 0],
    [names.eodStream, names.eodSubjectAll, eventDedupWindowMs, 0],
    [names.meFillStream, names.meFillSubjectAll, eventDedupWindowMs, 0],
    [names.meCommandStream, names.meCommandSubjectAll, eventDedupWindowMs, 0],
    [names.complianceStream, names.complianceSubjectAll, eventDedupWindowMs, 0],
  ];
  for (const [name, subject, dedupWindowMs, maxAgeMs] of streams) {
    await ensureStream(jsm, {
      name,
      subjects: [subject],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      // JetStream needs the dedup window inside max_age.
      duplicate_window: nanos(maxAgeMs > 0 ? Math.min(dedupWindowMs, maxAgeMs) : dedupWindowMs),
      max_age: nanos(maxAgeMs),
    });
  }
  await ensureBalanceStream(jsm, names);
  await ensureCustodyStream(jsm, names);
  const accounts = await new Kvm(nc).create(names.accountsBucket, { history: 5 });
  // Bucket-level TTL (NATS 2.9 has no per-key TTL): an unrenewed lease disappears.
  const leases = await new Kvm(nc).create(names.partitionLeaseBucket, { history: 1, ttl: leaseTtlMs });
  // The close's sealed reports (<date>.json, <date>.html); opened by the EOD service on the leader.
  await new Objm(nc).create(names.eodReportsStore, { description: 'sealed EOD reports: <date>.json and <date>.html' });
  return { jsm, accounts, leases };
}

/**
 * Every stream and bucket an engine makes under these names. For tests and the bench, which
 * each use a namespace of their own on a shared server and remove it afterwards.
 */
export function topologyStreams(names: NatsNames): string[] {
  return [
    names.commandStream, names.eventStream, names.reconStream, names.meBalanceStream, names.custodyStream, names.eodStream,
    names.meFillStream, names.meCommandStream, names.complianceStream,
    `KV_${names.accountsBucket}`, `KV_${names.partitionLeaseBucket}`, `OBJ_${names.eodReportsStore}`,
  ];
}

export async function removeTopology(nc: NatsConnection, names: NatsNames): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const stream of topologyStreams(names)) await jsm.streams.delete(stream).catch(() => undefined);
}

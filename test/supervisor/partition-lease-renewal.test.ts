import type { NatsConnection } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartitionLeases } from '../../src/supervisor/partition-leases.js';
import { flakyBucket, leaseBuckets } from '../support/flaky-kv.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl } from '../support/nats.js';
import { until } from '../support/until.js';

/**
 * The partition leases on a real KV bucket (TTL as in production), with renewals made to go
 * unanswered as NATS under load or away leaves them (ADR 0030, now shared with the leader lease):
 * serving goes on while the keys cannot have expired, and stops before they can.
 */
const leaseTtlMs = 3_000;
const partitions = 2;
let nc: NatsConnection;

const buckets = leaseBuckets(() => nc, 'partition_leases', leaseTtlMs);
const newBucket = (): Promise<KV> => buckets.create();

function leases(bucket: KV, holderId: string, served: Set<number>, lost: number[]): PartitionLeases {
  return new PartitionLeases({
    bucket, partitions, holderId, leaseTtlMs, log: silentLogger(),
    onAcquired: async (partition) => void served.add(partition),
    onLost: async (partition) => {
      served.delete(partition);
      lost.push(partition);
    },
  });
}

const revisionOf = async (bucket: KV, key: string): Promise<number> => (await bucket.get(key))?.revision ?? 0;

beforeAll(async () => {
  nc = await connect({ servers: sharedNatsUrl() });
});

afterAll(async () => {
  await buckets.close();
  await nc?.close();
});

describe('partition lease renewals', () => {
  it('renewals whose answers are lost (they landed) keep every partition served; the next renewal reads the key back and goes on', async () => {
    const bucket = await newBucket();
    const mode = { failing: false, landed: true };
    const served = new Set<number>();
    const lost: number[] = [];
    const holder = leases(flakyBucket(bucket, mode), 'a', served, lost);
    await holder.start();
    expect(holder.owned).toEqual([0, 1]);
    mode.failing = true;
    const before = await revisionOf(bucket, 'p1');
    await until('renewals landed without an answer', async () => (await revisionOf(bucket, 'p1')) > before, 5_000);
    // Past where the old code let go of the partitions (the first unanswered renewal), not yet at the TTL.
    await new Promise((resolve) => setTimeout(resolve, leaseTtlMs / 3));
    expect(lost).toEqual([]);
    mode.failing = false;
    const landed = await revisionOf(bucket, 'p1');
    await until('a later renewal past the unanswered ones', async () => (await revisionOf(bucket, 'p1')) > landed, 5_000);
    expect(holder.owned).toEqual([0, 1]);
    expect([...served].sort()).toEqual([0, 1]);
    expect(lost).toEqual([]);
    await holder.stop();
  });

  it('renewals unanswered for most of a TTL stop serving before the keys can expire; the server refusing one stops it at once', async () => {
    const bucket = await newBucket();
    const mode = { failing: false, landed: false };
    const served = new Set<number>();
    const lost: number[] = [];
    const holder = leases(flakyBucket(bucket, mode), 'b', served, lost);
    await holder.start();
    const renewedAt = Date.now();
    mode.failing = true;
    await until('both partitions given up', () => lost.length === 2, 10_000);
    expect(Date.now() - renewedAt).toBeLessThan(leaseTtlMs);
    expect(served.size).toBe(0);
    // Taken again once renewals are answered (the keys expired, or are taken back as their own holder's).
    mode.failing = false;
    await until('served again', () => served.size === 2, 10_000);
    // Another holder moves a key: the next renewal is refused by the server and that partition stops.
    const entry = await bucket.get('p0');
    await bucket.update('p0', 'usurper', entry?.revision ?? 0);
    await until('p0 given up on the refusal', () => lost.length === 3, 5_000);
    expect(lost[2]).toBe(0);
    expect(served.has(0)).toBe(false);
    expect(served.has(1)).toBe(true);
    await holder.stop();
  });
});

import type { NatsConnection } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaderLease } from '../../src/supervisor/leader-lease.js';
import { flakyBucket, leaseBuckets } from '../support/flaky-kv.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl } from '../support/nats.js';
import { until } from '../support/until.js';

/**
 * The leader lease on a real KV bucket (TTL as in production), with renewals made to go
 * unanswered the ways NATS under load or restarting leaves them: the reply lost after the update
 * landed, or no update at all.
 */
const leaseTtlMs = 3_000;
let nc: NatsConnection;

const buckets = leaseBuckets(() => nc, 'leader_lease', leaseTtlMs);
const newBucket = (): Promise<KV> => buckets.create();

function lease(bucket: KV, holderId: string, calls: { elected: number; deposed: number }): LeaderLease {
  return new LeaderLease({
    bucket, key: 'leader', holderId, leaseTtlMs, log: silentLogger(),
    onElected: async () => void calls.elected++,
    onDeposed: async () => void calls.deposed++,
  });
}

beforeAll(async () => {
  nc = await connect({ servers: sharedNatsUrl() });
});

afterAll(async () => {
  await buckets.close();
  await nc?.close();
});

describe('leader lease renewals', () => {
  it('a renewal whose answer is lost (it landed) keeps the term: same fence token, the next renewal reads the key back and goes on', async () => {
    const bucket = await newBucket();
    const mode = { failing: false, landed: true };
    const calls = { elected: 0, deposed: 0 };
    const leader = lease(flakyBucket(bucket, mode), 'a', calls);
    await leader.start();
    const token = leader.fence?.token;
    expect(leader.isLeader).toBe(true);
    mode.failing = true;
    const revisionBefore = (await bucket.get('leader'))?.revision ?? 0;
    await until('a renewal landed without an answer', async () => ((await bucket.get('leader'))?.revision ?? 0) > revisionBefore, 5_000);
    mode.failing = false;
    const landed = (await bucket.get('leader'))?.revision ?? 0;
    await until('a later renewal past the unanswered one', async () => ((await bucket.get('leader'))?.revision ?? 0) > landed, 5_000);
    expect(leader.isLeader).toBe(true);
    expect(leader.fence?.token).toBe(token);
    expect(calls).toEqual({ elected: 1, deposed: 0 });
    await leader.stop();
  });

  it('renewals unanswered for most of a TTL end the term before the key can expire; the server refusing one ends it at once', async () => {
    const bucket = await newBucket();
    const mode = { failing: false, landed: false };
    const calls = { elected: 0, deposed: 0 };
    const leader = lease(flakyBucket(bucket, mode), 'b', calls);
    await leader.start();
    const renewedAt = Date.now();
    mode.failing = true;
    await until('deposed', () => calls.deposed === 1, 10_000);
    const deposedAfterMs = Date.now() - renewedAt;
    expect(deposedAfterMs).toBeLessThan(leaseTtlMs);
    expect(leader.isLeader).toBe(false);
    // Elected again once renewals are answered (the key expired or is taken back as its own holder's).
    mode.failing = false;
    await until('elected again', () => leader.isLeader, 10_000);
    // Another holder moves the key: the next renewal is refused by the server and the term ends.
    const entry = await bucket.get('leader');
    await bucket.update('leader', 'usurper', entry?.revision ?? 0);
    await until('deposed by the refusal', () => calls.deposed === 2, 5_000);
    expect(leader.isLeader).toBe(false);
    await leader.stop();
  });
});

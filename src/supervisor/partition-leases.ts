import type { KV } from '@nats-io/kv';
import type { Logger } from '../observability/logger.js';
import { acquireLease } from './acquire-lease.js';
import type { LeaseTerm } from './lease-term.js';

export interface PartitionLeaseOptions {
  bucket: KV;
  partitions: number;
  /** This instance's id, stored as the lease holder. */
  holderId: string;
  /** The bucket's TTL (max_age): a holder that stops renewing loses its leases after this. */
  leaseTtlMs: number;
  log: Logger;
  /** Start serving the partition; called once per acquisition. */
  onAcquired(partition: number): Promise<void>;
  /** Stop serving it; called when the lease is lost or released. */
  onLost(partition: number): Promise<void>;
}

/**
 * Which command partitions this instance serves, decided through a JetStream KV bucket
 * with a bucket-level TTL (NATS 2.9 has no per-key TTL): a lease is taken with `create`
 * (fails if someone holds it) and renewed with `update` on its last revision (lease-term.ts).
 * A renewal the server refuses means someone else holds it now, so we stop serving at once;
 * one that goes unanswered (NATS slow under load, or reconnecting) keeps the partition while the
 * last renewal that landed is recent enough that the key cannot have expired, as the leader
 * lease does (ADR 0030). A crashed holder's keys expire after `leaseTtlMs` and another
 * instance takes them over.
 */
export class PartitionLeases {
  private readonly held = new Map<number, LeaseTerm>();
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: PartitionLeaseOptions) {}

  get owned(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  async start(): Promise<void> {
    await this.runRound();
    const everyMs = Math.max(100, Math.floor(this.options.leaseTtlMs / 3));
    this.timer = setInterval(() => void this.runRound(), everyMs);
  }

  /** Stops serving and releases every lease so another instance can take over without waiting for the TTL. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.round;
    for (const partition of this.owned) await this.release(partition, 'stopping').catch(() => undefined);
    await this.options.bucket.delete(presenceKeyOf(this.options.holderId)).catch(() => undefined);
  }

  private runRound(): Promise<void> {
    this.round = this.round.then(() => this.renewAndAcquire()).catch((error: unknown) =>
      this.options.log.warn({ event: 'lease.round_failed', err: (error as Error).message }, 'partition lease round failed'));
    return this.round;
  }

  private async renewAndAcquire(): Promise<void> {
    const { bucket, partitions, holderId } = this.options;
    // Renewals first: a presence write that fails must not leave the held keys unrenewed this round.
    for (const partition of [...this.held.keys()]) await this.renew(partition);
    await bucket.put(presenceKeyOf(holderId), String(Date.now()));
    // A fair share, so instances split the partitions instead of the first one taking all.
    const fairShare = Math.ceil(partitions / Math.max(1, await this.liveInstances()));
    for (const partition of this.owned.slice(fairShare).reverse()) await this.release(partition, 'rebalance');
    for (let partition = 0; partition < partitions && this.held.size < fairShare && !this.stopped; partition++) {
      if (!this.held.has(partition)) await this.tryAcquire(partition);
    }
  }

  private async liveInstances(): Promise<number> {
    let count = 0;
    for await (const _key of await this.options.bucket.keys(`${presencePrefix}*`)) count++;
    return count;
  }

  private async renew(partition: number): Promise<void> {
    const term = this.held.get(partition);
    if (term === undefined) return;
    const { holderId, log } = this.options;
    const renewal = await term.renew();
    if (renewal.kind === 'unanswered') {
      log.warn({ event: 'lease.renew_unanswered', partition, holderId, sinceRenewedMs: renewal.sinceRenewedMs, err: renewal.error.message }, 'partition lease renewal got no answer; still serving, trying again');
    } else if (renewal.kind === 'lost') {
      this.held.delete(partition);
      log.warn({ event: 'lease.lost', partition, holderId, err: renewal.error.message }, 'partition lease lost');
      await this.options.onLost(partition);
    }
  }

  private async release(partition: number, why: string): Promise<void> {
    const term = this.held.get(partition);
    if (term === undefined) return;
    this.held.delete(partition);
    await this.options.onLost(partition);
    await this.options.bucket.delete(keyOf(partition), { previousSeq: term.revision }).catch(() => undefined);
    this.options.log.debug({ event: 'lease.released', partition, holderId: this.options.holderId, why }, 'partition lease released');
  }

  private async tryAcquire(partition: number): Promise<void> {
    const acquired = await acquireLease(this.options.bucket, keyOf(partition), this.options.holderId, this.options.leaseTtlMs);
    if (acquired === null) return; // held by someone else
    this.held.set(partition, acquired.term);
    this.options.log.debug({ event: 'lease.acquired', partition, holderId: this.options.holderId, reclaimed: acquired.reclaimed }, 'partition lease acquired');
    try {
      await this.options.onAcquired(partition);
    } catch (error) {
      await this.release(partition, 'start failed');
      throw error;
    }
  }
}

const keyOf = (partition: number): string => `p${partition}`;
const presencePrefix = 'i.';
const presenceKeyOf = (holderId: string): string => `${presencePrefix}${holderId}`;

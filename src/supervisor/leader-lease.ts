import type { KV } from '@nats-io/kv';
import type { Logger } from '../observability/logger.js';
import { acquireLease } from './acquire-lease.js';
import type { Fence } from './fence.js';
import type { LeaseTerm } from './lease-term.js';

export interface LeaderLeaseOptions {
  bucket: KV;
  /** The lease key, e.g. `leader`. */
  key: string;
  holderId: string;
  /** The bucket's TTL: a leader that stops renewing is replaced after this. */
  leaseTtlMs: number;
  log: Logger;
  onElected(): Promise<void>;
  onDeposed(): Promise<void>;
}

/**
 * Exactly one instance runs the singletons (the reconcilers, the EOD close). The lease is a
 * key created with `create` (fails while someone holds it) and renewed with `update` on its
 * last revision; the revision at which a term began is its fencing token (`fence`, checked by
 * Postgres writes, ADR 0012). The bucket's TTL removes a dead leader's key.
 */
export class LeaderLease {
  /** The term held, renewed each round (lease-term.ts); null when not leading. */
  private term: LeaseTerm | null = null;
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> = Promise.resolve();
  private stopped = false;
  /** After a failed election: no new attempt before this (doubling up to electionBackoffMaxMs). */
  private electionRetryAtMs = 0;
  private electionFailures = 0;

  constructor(private readonly options: LeaderLeaseOptions) {}

  get isLeader(): boolean {
    return this.term !== null;
  }

  /** This term's fencing token, or null when not leading. */
  get fence(): Fence | null {
    if (this.term === null) return null;
    return { lease: this.options.key, token: this.term.acquiredRevision, holder: this.options.holderId };
  }

  async start(): Promise<void> {
    await this.runRound();
    this.timer = setInterval(() => void this.runRound(), Math.max(100, Math.floor(this.options.leaseTtlMs / 3)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.round;
    const term = this.term;
    if (term === null) return;
    this.term = null;
    await this.options.onDeposed().catch((error: unknown) => this.options.log.error({ event: 'leader.stop_failed', err: String(error) }, 'stopping singletons failed'));
    await this.options.bucket.delete(this.options.key, { previousSeq: term.revision }).catch(() => undefined);
  }

  /**
   * Gives the lease up while keeping the instance running (e.g. a write was refused by the
   * fence): services stop first, then the key is deleted if it is still ours.
   */
  resign(why: string): Promise<void> {
    this.round = this.round.then(async () => {
      const term = this.term;
      if (term === null) return;
      this.term = null;
      this.options.log.warn({ event: 'leader.resigned', holderId: this.options.holderId, why }, 'leader lease given up');
      await this.options.onDeposed().catch((error: unknown) => this.options.log.error({ event: 'leader.stop_failed', err: String(error) }, 'stopping singletons failed'));
      await this.options.bucket.delete(this.options.key, { previousSeq: term.revision }).catch(() => undefined);
    });
    return this.round;
  }

  private runRound(): Promise<void> {
    this.round = this.round.then(() => this.renewOrAcquire()).catch((error: unknown) =>
      this.options.log.warn({ event: 'leader.round_failed', err: (error as Error).message }, 'leader lease round failed'));
    return this.round;
  }

  private async renewOrAcquire(): Promise<void> {
    if (this.stopped) return;
    const { bucket, key, holderId, leaseTtlMs, log } = this.options;
    if (this.term !== null) {
      const renewal = await this.term.renew();
      if (renewal.kind === 'unanswered') {
        log.warn({ event: 'leader.renew_unanswered', holderId, sinceRenewedMs: renewal.sinceRenewedMs, err: renewal.error.message }, 'leader lease renewal got no answer; still leading, trying again');
      } else if (renewal.kind === 'lost') {
        this.term = null;
        log.warn({ event: 'leader.deposed', holderId, err: renewal.error.message }, 'leader lease lost');
        await this.options.onDeposed();
      }
      return;
    }
    if (Date.now() < this.electionRetryAtMs) return;
    const acquired = await acquireLease(bucket, key, holderId, leaseTtlMs);
    if (acquired === null) return; // someone else leads
    this.term = acquired.term;
    log.info({ event: 'leader.elected', holderId, token: acquired.term.acquiredRevision, reclaimed: acquired.reclaimed }, 'elected leader: running the singletons');
    try {
      await this.options.onElected();
      this.electionFailures = 0;
    } catch (error) {
      const term = this.term;
      this.term = null;
      if (term !== null) await bucket.delete(key, { previousSeq: term.revision }).catch(() => undefined);
      this.electionFailures++;
      this.electionRetryAtMs = Date.now() + Math.min(electionBackoffMaxMs, this.options.leaseTtlMs * 2 ** (this.electionFailures - 1));
      throw error;
    }
  }
}

const electionBackoffMaxMs = 60_000;


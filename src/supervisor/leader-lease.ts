import { JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from '../observability/logger.js';
import { acquireLease } from './acquire-lease.js';
import type { Fence } from './fence.js';

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
  private revision: number | null = null;
  /** The revision at which this term began: the term's fencing token (renewals move `revision`, not this). */
  private acquiredRevision: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> = Promise.resolve();
  private stopped = false;
  /** After a failed election: no new attempt before this (doubling up to electionBackoffMaxMs). */
  private electionRetryAtMs = 0;
  private electionFailures = 0;
  /** When the last renewal (or the election) that succeeded was sent: the lease runs a TTL from then at least. */
  private renewedAtMs = 0;
  /** The last renewal got no answer: it may have landed, so the next round reads the key back first. */
  private unanswered = false;

  constructor(private readonly options: LeaderLeaseOptions) {}

  get isLeader(): boolean {
    return this.revision !== null;
  }

  /** This term's fencing token, or null when not leading. */
  get fence(): Fence | null {
    if (this.revision === null || this.acquiredRevision === null) return null;
    return { lease: this.options.key, token: this.acquiredRevision, holder: this.options.holderId };
  }

  async start(): Promise<void> {
    await this.runRound();
    this.timer = setInterval(() => void this.runRound(), Math.max(100, Math.floor(this.options.leaseTtlMs / 3)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.round;
    const revision = this.revision;
    if (revision === null) return;
    this.revision = null;
    await this.options.onDeposed().catch((error: unknown) => this.options.log.error({ event: 'leader.stop_failed', err: String(error) }, 'stopping singletons failed'));
    await this.options.bucket.delete(this.options.key, { previousSeq: revision }).catch(() => undefined);
  }

  /**
   * Gives the lease up while keeping the instance running (e.g. a write was refused by the
   * fence): services stop first, then the key is deleted if it is still ours.
   */
  resign(why: string): Promise<void> {
    this.round = this.round.then(async () => {
      const revision = this.revision;
      if (revision === null) return;
      this.revision = null;
      this.options.log.warn({ event: 'leader.resigned', holderId: this.options.holderId, why }, 'leader lease given up');
      await this.options.onDeposed().catch((error: unknown) => this.options.log.error({ event: 'leader.stop_failed', err: String(error) }, 'stopping singletons failed'));
      await this.options.bucket.delete(this.options.key, { previousSeq: revision }).catch(() => undefined);
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
    const { bucket, key, holderId, log } = this.options;
    if (this.revision !== null) {
      const sentAtMs = Date.now();
      try {
        if (this.unanswered) this.revision = await this.readBack(this.revision);
        this.revision = await bucket.update(key, holderId, this.revision);
        this.renewedAtMs = sentAtMs;
        this.unanswered = false;
      } catch (error) {
        // No answer (a timeout, NATS away or slow under load) is not a refusal: the key still runs
        // until a TTL after the last renewal that landed, so this term goes on while that is
        // comfortably ahead, and the next round asks again. The server refusing the revision (the key
        // moved, or expired) ends the term; so does going unanswered for most of a TTL.
        const refused = error instanceof JetStreamApiError || error instanceof LeaseMovedError;
        const sinceRenewedMs = Date.now() - this.renewedAtMs;
        if (!refused && sinceRenewedMs < this.options.leaseTtlMs * renewWithinTtlShare) {
          this.unanswered = true;
          log.warn({ event: 'leader.renew_unanswered', holderId, sinceRenewedMs, err: (error as Error).message }, 'leader lease renewal got no answer; still leading, trying again');
          return;
        }
        this.revision = null;
        this.unanswered = false;
        log.warn({ event: 'leader.deposed', holderId, err: (error as Error).message }, 'leader lease lost');
        await this.options.onDeposed();
      }
      return;
    }
    if (Date.now() < this.electionRetryAtMs) return;
    const sentAtMs = Date.now();
    const acquired = await acquireLease(bucket, key, holderId);
    if (acquired === null) return; // someone else leads
    this.renewedAtMs = sentAtMs;
    this.unanswered = false;
    this.revision = acquired.revision;
    this.acquiredRevision = acquired.revision;
    log.info({ event: 'leader.elected', holderId, token: acquired.revision, reclaimed: acquired.reclaimed }, 'elected leader: running the singletons');
    try {
      await this.options.onElected();
      this.electionFailures = 0;
    } catch (error) {
      const revision = this.revision;
      this.revision = null;
      if (revision !== null) await bucket.delete(key, { previousSeq: revision }).catch(() => undefined);
      this.electionFailures++;
      this.electionRetryAtMs = Date.now() + Math.min(electionBackoffMaxMs, this.options.leaseTtlMs * 2 ** (this.electionFailures - 1));
      throw error;
    }
  }

  /**
   * After an unanswered renewal: the key's revision now, if it is still ours (the renewal may
   * have landed, moving it on). Anything else (gone, another holder) means the term is over.
   */
  private async readBack(revision: number): Promise<number> {
    const entry = await this.options.bucket.get(this.options.key);
    if (!entry || entry.operation !== 'PUT' || entry.string() !== this.options.holderId || entry.revision < revision) {
      throw new LeaseMovedError(`the lease key is ${entry ? `held by ${entry.string()} at revision ${entry.revision} (${entry.operation})` : 'gone'}`);
    }
    return entry.revision;
  }
}

/** The lease key no longer holds this term (read back after an unanswered renewal). */
class LeaseMovedError extends Error {}

const electionBackoffMaxMs = 60_000;
/** Unanswered renewals keep the term only while the last landed one is this recent (a share of the TTL: a margin for clocks and the next round). */
const renewWithinTtlShare = 0.6;


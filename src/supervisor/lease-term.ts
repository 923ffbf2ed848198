import { JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';

/** What one renewal round did to a held lease. */
export type RenewalOutcome =
  | { kind: 'renewed' }
  /** No answer, but the last renewal that landed is recent: still held, the next round asks again. */
  | { kind: 'unanswered'; sinceRenewedMs: number; error: Error }
  /** Refused by the server (the key moved or expired), or unanswered for most of a TTL: no longer held. */
  | { kind: 'lost'; error: Error };

/**
 * One held lease key in a bucket with a TTL: renewed with `update` on its last revision (ADR 0012,
 * ADR 0030). A renewal that gets no answer (a timeout; NATS away, or slow under load) is not a
 * refusal: the key still runs until a TTL after the last renewal that landed, so the term goes on
 * while that is comfortably ahead, and the next renewal first reads the key back (the unanswered
 * one may have landed, moving its revision on). The server refusing the revision ends the term at
 * once; so does going unanswered for `renewWithinTtlShare` of the TTL, before the key can expire
 * and another holder take it. Shared by the leader lease and the partition leases.
 */
export class LeaseTerm {
  /** When the last renewal that got no answer was sent; null once one is answered. */
  private unansweredSentAtMs: number | null = null;
  /** The revision at which the term began: its fencing token (renewals move `revision`, not this). */
  readonly acquiredRevision: number;

  constructor(
    private readonly bucket: KV,
    readonly key: string,
    private readonly holderId: string,
    private readonly leaseTtlMs: number,
    /** The key's revision as this holder last wrote it. */
    public revision: number,
    /** When the write that made `revision` was sent: the key runs a TTL from then at least. */
    private renewedAtMs: number,
  ) {
    this.acquiredRevision = revision;
  }

  async renew(): Promise<RenewalOutcome> {
    const sentAtMs = Date.now();
    let updateSent = false;
    try {
      if (this.unansweredSentAtMs !== null) {
        const current = await this.readBack();
        // Moved on under this holder's name: the unanswered renewal landed, so the key runs a TTL from its sending at least.
        if (current > this.revision) this.renewedAtMs = Math.max(this.renewedAtMs, this.unansweredSentAtMs);
        this.revision = current;
      }
      updateSent = true;
      this.revision = await this.bucket.update(this.key, this.holderId, this.revision);
      this.renewedAtMs = sentAtMs;
      this.unansweredSentAtMs = null;
      return { kind: 'renewed' };
    } catch (caught) {
      const error = caught instanceof Error ? caught : new Error(String(caught));
      const refused = error instanceof JetStreamApiError || error instanceof LeaseMovedError;
      const sinceRenewedMs = Date.now() - this.renewedAtMs;
      if (!refused && sinceRenewedMs < this.leaseTtlMs * renewWithinTtlShare) {
        // This update may have landed or not (the next renewal reads the key back to know); a
        // read-back that went unanswered sent no update, so the earlier one's time stays.
        if (updateSent) this.unansweredSentAtMs = sentAtMs;
        return { kind: 'unanswered', sinceRenewedMs, error };
      }
      return { kind: 'lost', error };
    }
  }

  /** The key's revision now, if it is still this holder's; anything else (gone, another holder) ends the term. */
  private async readBack(): Promise<number> {
    const entry = await this.bucket.get(this.key);
    if (!entry || entry.operation !== 'PUT' || entry.string() !== this.holderId || entry.revision < this.revision) {
      throw new LeaseMovedError(`the lease key ${this.key} is ${entry ? `held by ${entry.string()} at revision ${entry.revision} (${entry.operation})` : 'gone'}`);
    }
    return entry.revision;
  }
}

/** The lease key no longer holds this term (read back after an unanswered renewal). */
class LeaseMovedError extends Error {}

/** Unanswered renewals keep the term only while the last landed one is this recent (a share of the TTL: a margin for clocks and the next round). */
const renewWithinTtlShare = 0.6;

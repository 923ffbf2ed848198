import { randomUUID } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { minorToDecimal } from '../../config/decimal.js';
import type { Pool } from '../../db/pool.js';
import { withTransaction } from '../../db/transaction.js';
import type { NatsNames } from '../../nats/names.js';
import type { Logger } from '../../observability/logger.js';
import { moneyScale, type BreakAlert, type BreakCandidate, type LiveBreak } from './break.js';

export interface BreakRegistryDeps {
  boundary: string;
  pool: Pool;
  js: JetStreamClient;
  names: NatsNames;
  log: Logger;
  /** Called once when a break is first raised (e.g. freeze the account). */
  onRaised?(live: LiveBreak): Promise<void>;
  /** Called once when a raised break is resolved. */
  onResolved?(live: LiveBreak): Promise<void>;
}

const fingerprintOf = (c: Pick<BreakCandidate, 'kind' | 'key'>): string => `${c.kind}|${c.key}`;

/**
 * The live breaks of one boundary, keyed by fingerprint (kind, key). A fingerprint is
 * paged once when it opens and once when it resolves, however long it persists between.
 * Postgres (`recon_breaks`) is written before the alert goes out, and the alert carries
 * the break id as its Nats-Msg-Id, so a crash between the two repeats nothing twice.
 */
export class BreakRegistry {
  private readonly live = new Map<string, LiveBreak>();

  constructor(private readonly deps: BreakRegistryDeps) {}

  /** Loads the breaks that are still open or acknowledged (after a restart). */
  async load(): Promise<void> {
    const result = await this.deps.pool.query<{
      id: string; kind: string; break_key: string; user_id: string | null; currency: string | null;
      left_amount: string | null; right_amount: string | null; delta: string | null; detail: string | null;
      status: LiveBreak['status']; first_seen_at: Date;
    }>(
      `SELECT id, kind, break_key, user_id, currency, left_amount, right_amount, delta, detail, status, first_seen_at
         FROM recon_breaks WHERE boundary = $1 AND resolved_at IS NULL AND status IN ('open', 'acknowledged', 'accepted')`,
      [this.deps.boundary],
    );
    this.live.clear();
    for (const r of result.rows) {
      const live: LiveBreak = {
        id: r.id, boundary: this.deps.boundary, kind: r.kind, key: r.break_key,
        userId: r.user_id, currency: r.currency,
        left: r.left_amount, right: r.right_amount, delta: r.delta, detail: r.detail,
        status: r.status, firstSeenAtMs: r.first_seen_at.getTime(),
      };
      this.live.set(fingerprintOf(live), live);
    }
  }

  /** Open or acknowledged (accepted ones are known and tolerated). */
  get openCount(): number {
    return this.list().filter((b) => b.status !== 'accepted').length;
  }

  has(kind: string, key: string): boolean {
    return this.live.has(fingerprintOf({ kind, key }));
  }

  list(): LiveBreak[] {
    return [...this.live.values()];
  }

  /** The difference has outlived its grace window: open a break unless this fingerprint already has one. */
  async raise(candidate: BreakCandidate, firstSeenAtMs: number): Promise<LiveBreak> {
    const fingerprint = fingerprintOf(candidate);
    const existing = this.live.get(fingerprint);
    if (existing) {
      Object.assign(existing, amountsOf(candidate));
      return existing;
    }
    const live: LiveBreak = {
      id: randomUUID(), boundary: this.deps.boundary, kind: candidate.kind, key: candidate.key,
      userId: candidate.userId ?? null, currency: candidate.currency ?? null,
      ...amountsOf(candidate), status: 'open', firstSeenAtMs,
    };
    await this.deps.pool.query(
      `INSERT INTO recon_breaks (id, boundary, kind, break_key, user_id, currency, left_amount, right_amount, delta, detail, status, first_seen_at, last_seen_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, now())`,
      [live.id, live.boundary, live.kind, live.key, live.userId, live.currency, live.left, live.right, live.delta, live.detail, new Date(firstSeenAtMs)],
    );
    this.live.set(fingerprint, live);
    await this.publish(this.deps.names.reconAlertSubject(this.deps.boundary), live, `alert:${live.id}`);
    this.deps.log.warn({ event: 'recon.break_raised', boundary: live.boundary, breakId: live.id, kind: live.kind, key: live.key, delta: live.delta }, 'reconciliation break');
    await this.deps.onRaised?.(live);
    return live;
  }

  /** The sides agree again: resolve this fingerprint's break, if any. */
  async resolve(kind: string, key: string): Promise<void> {
    const fingerprint = fingerprintOf({ kind, key });
    const live = this.live.get(fingerprint);
    if (!live) return;
    // An accepted break keeps its status (the operator's decision) and only gets its end time.
    await this.deps.pool.query(
      `UPDATE recon_breaks SET status = CASE WHEN status = 'accepted' THEN status ELSE 'resolved' END,
              resolved_at = now(), last_seen_at = now()
        WHERE id = $1 AND resolved_at IS NULL`,
      [live.id],
    );
    this.live.delete(fingerprint);
    await this.publish(this.deps.names.reconResolvedSubject(this.deps.boundary), live, `resolved:${live.id}`);
    this.deps.log.info({ event: 'recon.break_resolved', boundary: live.boundary, breakId: live.id, kind: live.kind, key: live.key }, 'reconciliation break resolved');
    await this.deps.onResolved?.(live);
  }

  /** Saves the latest amounts and last-seen time of every live break (called at checkpoints). */
  async touchAll(): Promise<void> {
    for (const live of this.live.values()) {
      await this.deps.pool.query(
        'UPDATE recon_breaks SET last_seen_at = now(), left_amount = $2, right_amount = $3, delta = $4 WHERE id = $1',
        [live.id, live.left, live.right, live.delta],
      );
    }
  }

  byId(breakId: string): LiveBreak | undefined {
    return this.list().find((b) => b.id === breakId);
  }

  /**
   * An operator acknowledged (working on it) or accepted (known, tolerated, with a reason) a
   * live break. Either way it is not paged again while it persists; an accepted one no
   * longer counts as open. The action is kept in the append-only recon_break_actions.
   */
  async act(breakId: string, action: 'acknowledge' | 'accept', actorId: string, reason: string | null): Promise<LiveBreak | null> {
    const live = this.byId(breakId);
    if (!live) return null;
    await withTransaction(this.deps.pool, async (client) => {
      if (action === 'acknowledge') {
        await client.query(`UPDATE recon_breaks SET status = 'acknowledged', acknowledged_by = $2, acknowledged_at = now() WHERE id = $1 AND status = 'open'`, [breakId, actorId]);
      } else {
        await client.query(`UPDATE recon_breaks SET status = 'accepted', accepted_by = $2, accepted_reason = $3, accepted_at = now() WHERE id = $1`, [breakId, actorId, reason]);
      }
      await client.query('INSERT INTO recon_break_actions (break_id, action, actor_id, reason) VALUES ($1, $2, $3, $4)', [breakId, action, actorId, reason]);
    });
    if (action === 'accept') live.status = 'accepted';
    else if (live.status === 'open') live.status = 'acknowledged';
    this.deps.log.info({ event: `recon.break_${action === 'accept' ? 'accepted' : 'acknowledged'}`, boundary: live.boundary, breakId, actorId, reason }, `break ${action === 'accept' ? 'accepted' : 'acknowledged'}`);
    return live;
  }

  private async publish(subject: string, live: LiveBreak, msgID: string): Promise<void> {
    const alert: BreakAlert = {
      breakId: live.id,
      boundary: live.boundary,
      kind: live.kind,
      ...(live.userId ? { userId: live.userId } : {}),
      currency: live.currency,
      left: live.left,
      right: live.right,
      delta: live.delta,
      firstSeenAt: new Date(live.firstSeenAtMs).toISOString(),
      ...(live.detail ? { detail: live.detail } : {}),
    };
    await this.deps.js.publish(subject, JSON.stringify(alert), { msgID });
  }
}

function amountsOf(c: BreakCandidate): Pick<LiveBreak, 'left' | 'right' | 'delta' | 'detail'> {
  const decimal = (v: bigint | undefined): string | null => (v === undefined ? null : minorToDecimal(v, moneyScale));
  return {
    left: decimal(c.leftMinor),
    right: decimal(c.rightMinor),
    delta: c.leftMinor !== undefined && c.rightMinor !== undefined ? decimal(c.leftMinor - c.rightMinor) : null,
    detail: c.detail ?? null,
  };
}

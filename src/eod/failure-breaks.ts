import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { PoolClient } from '../db/pool.js';
import { queryRows } from '../db/rows.js';
import type { NatsNames } from '../nats/names.js';
import type { LiveBreak } from '../recon/breaks/break.js';
import { alertOf, insertBreak, liveRowSchema, resolutionOf, resolveBreak, wireAmount } from '../recon/breaks/break-rows.js';
import type { CutBreak, FailureBreakOwner } from './steps/step.js';

/** What one attempt of a step changed among its date's breaks. */
export interface FailureBreakChanges {
  raised: LiveBreak[];
  resolved: LiveBreak[];
  /** Live already; their amounts refreshed from this attempt's cut. */
  refreshed: number;
}

/** One break per (date, user, currency): the fingerprint's key, so a re-run of the date finds the break it recorded before. */
export const failureBreakKeyOf = (date: string, b: Pick<CutBreak, 'userId' | 'currency'>): string => `${date}/${b.userId ?? ''}/${b.currency}`;

const fingerprintOf = (kind: string, key: string): string => `${kind}|${key}`;

/**
 * Inside the transaction that marks the step failed (or completed), fenced by the close's lease:
 * makes the date's live breaks of `owner` what this attempt found. A break not live yet is
 * recorded with its `recon.alert.<boundary>` in the outbox (paged once: a re-run finds it live
 * and only refreshes its amounts); a live one this attempt no longer finds is resolved with its
 * `recon.resolved.<boundary>`. `found` empty: the step passed, every one of the date resolves.
 */
export async function syncFailureBreaks(
  client: PoolClient, names: NatsNames, fenceToken: number, date: string, owner: FailureBreakOwner, found: readonly CutBreak[], nowMs: number,
): Promise<FailureBreakChanges> {
  const rows = await queryRows(client, liveRowSchema,
    `SELECT id, kind, break_key, user_id, currency, left_amount::text, right_amount::text, delta::text, detail, status, first_seen_at
       FROM recon_breaks
      WHERE boundary = $1 AND kind = ANY($2::text[]) AND starts_with(break_key, $3) AND resolved_at IS NULL`,
    [owner.boundary, owner.kinds, `${date}/`]);
  const live = new Map(rows.map((r): [string, LiveBreak] => [fingerprintOf(r.kind, r.break_key), {
    id: r.id, boundary: owner.boundary, kind: r.kind, key: r.break_key, userId: r.user_id, currency: r.currency,
    left: wireAmount(r.left_amount), right: wireAmount(r.right_amount), delta: wireAmount(r.delta), detail: r.detail, status: r.status, firstSeenAtMs: r.first_seen_at.getTime(),
  }]));
  const changes: FailureBreakChanges = { raised: [], resolved: [], refreshed: 0 };
  const seen = new Set<string>();
  for (const b of found) {
    if (b.boundary !== owner.boundary || !owner.kinds.includes(b.kind)) throw new Error(`a ${b.boundary}/${b.kind} break is not the step's to record (${owner.boundary}: ${owner.kinds.join(', ')})`);
    const key = failureBreakKeyOf(date, b);
    const fingerprint = fingerprintOf(b.kind, key);
    if (seen.has(fingerprint)) continue;
    seen.add(fingerprint);
    const existing = live.get(fingerprint);
    if (existing) {
      await client.query('UPDATE recon_breaks SET last_seen_at = now(), left_amount = $2, right_amount = $3, delta = $4, detail = $5 WHERE id = $1',
        [existing.id, b.left, b.right, b.delta, b.detail ?? null]);
      changes.refreshed++;
      continue;
    }
    const raised: LiveBreak = {
      id: randomUUID(), boundary: owner.boundary, kind: b.kind, key, userId: b.userId ?? null, currency: b.currency,
      left: b.left, right: b.right, delta: b.delta, detail: b.detail ?? null, status: 'open', firstSeenAtMs: nowMs,
    };
    await insertBreak(client, raised, [{ effect: 'publish', subject: names.reconAlertSubject(owner.boundary), payload: alertOf(raised), msgId: `alert:${raised.id}` }], fenceToken);
    changes.raised.push(raised);
  }
  const resolvedAt = new Date(nowMs).toISOString();
  for (const [fingerprint, b] of live) {
    if (seen.has(fingerprint)) continue;
    // The cut no longer shows it; what it shows instead is not this kind's to say (null amounts, as a meta-break resolves).
    const resolution = { left: null, right: null, delta: null };
    const payload = resolutionOf(b, resolution, resolvedAt);
    await resolveBreak(client, b, resolution, [{ effect: 'publish', subject: names.reconResolvedSubject(owner.boundary), payload, msgId: `resolved:${b.id}` }], fenceToken);
    changes.resolved.push(b);
  }
  return changes;
}

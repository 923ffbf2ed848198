import { z } from 'zod';
import { minorToDecimal, signedDecimalToMinor } from '../../config/decimal.js';
import type { PoolClient } from '../../db/pool.js';
import { queryRows } from '../../db/rows.js';
import { breakStatuses, moneyScale, type BreakAlert, type BreakCandidate, type LiveBreak } from './break.js';
import { recordEffects, type OutboxEffect } from './outbox.js';

/**
 * A break's rows as one transaction writes them (ADR 0020): the `recon_breaks` row, its
 * append-only `recon_break_events` row and its effects in `recon_outbox`. Shared by the
 * reconcilers' registry and the close, which records the breaks a step fails on (ADR 0029).
 */

/** A live break's row as `recon_breaks` returns it (the registry's load, the close's failure breaks). */
export const liveRowSchema = z.object({
  id: z.string(),
  kind: z.string(),
  break_key: z.string(),
  user_id: z.string().nullable(),
  currency: z.string().nullable(),
  left_amount: z.string().nullable(),
  right_amount: z.string().nullable(),
  delta: z.string().nullable(),
  detail: z.string().nullable(),
  status: z.enum(['open', 'acknowledged', 'accepted']),
  first_seen_at: z.date(),
});

/** A break's row whatever its state: live, or resolved (`resolved_at` set; an accepted one keeps `accepted`). */
const breakRowSchema = liveRowSchema.extend({ status: z.enum(breakStatuses), resolved_at: z.date().nullable() });
export type BreakRow = z.infer<typeof breakRowSchema>;

/**
 * Inside a transaction: the break's row as it is now, locked until the transaction ends, so what
 * the caller writes next moves it on from this state and not from an older copy (ADR 0029, the
 * window before the reconciler re-loads). A writer that changed it first (the close) is waited for.
 */
export async function lockBreakRow(client: PoolClient, boundary: string, breakId: string): Promise<BreakRow | null> {
  const rows = await queryRows(client, breakRowSchema,
    `SELECT id, kind, break_key, user_id, currency, left_amount::text, right_amount::text, delta::text, detail, status, first_seen_at, resolved_at
       FROM recon_breaks WHERE id = $1 AND boundary = $2 FOR UPDATE`,
    [breakId, boundary]);
  return rows[0] ?? null;
}

export type BreakEvent = 'raised' | 'acknowledged' | 'accepted' | 'resolved' | 'reopened';

export async function appendBreakEvent(
  client: PoolClient, breakId: string, event: BreakEvent,
  amounts: { left: string | null; right: string | null; delta: string | null; detail: string | null }, actorId: string, reason: string | null, fenceToken: number | null,
): Promise<void> {
  await client.query(
    `INSERT INTO recon_break_events (break_id, event, left_amount, right_amount, delta, detail, actor_id, reason, fence_token)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [breakId, event, amounts.left, amounts.right, amounts.delta, amounts.detail, actorId, reason, fenceToken],
  );
}

/** Inserts a new live break (`raised`, or `reopened` when its fingerprint had a break that resolved) with its effects. */
export async function insertBreak(client: PoolClient, live: LiveBreak, effects: readonly OutboxEffect[], fenceToken: number | null, alreadyDone?: ReadonlySet<string>): Promise<void> {
  const prior = await queryRows(client, z.object({ id: z.string() }),
    `SELECT id FROM recon_breaks WHERE boundary = $1 AND kind = $2 AND break_key = $3 AND resolved_at IS NOT NULL ORDER BY resolved_at DESC LIMIT 1`,
    [live.boundary, live.kind, live.key]);
  await client.query(
    `INSERT INTO recon_breaks (id, boundary, kind, break_key, user_id, currency, left_amount, right_amount, delta, detail, status, first_seen_at, last_seen_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, now())`,
    [live.id, live.boundary, live.kind, live.key, live.userId, live.currency, live.left, live.right, live.delta, live.detail, new Date(live.firstSeenAtMs)],
  );
  const priorId = prior[0]?.id;
  await appendBreakEvent(client, live.id, priorId ? 'reopened' : 'raised', live, 'system', priorId ? `the fingerprint's previous break ${priorId} had resolved` : null, fenceToken);
  await recordEffects(client, live.boundary, live.id, effects, alreadyDone);
}

/** Marks a live break resolved with the amounts at resolution (an accepted one keeps its status), with its effects. */
export async function resolveBreak(
  client: PoolClient, live: LiveBreak, resolution: Pick<LiveBreak, 'left' | 'right' | 'delta'>, effects: readonly OutboxEffect[], fenceToken: number | null,
): Promise<void> {
  // An accepted break keeps its status (the operator's decision) and only gets its end time.
  await client.query(
    `UPDATE recon_breaks SET status = CASE WHEN status = 'accepted' THEN status ELSE 'resolved' END,
            resolved_at = now(), last_seen_at = now(),
            last_left = $2, last_right = $3, last_delta = $4, left_amount = $5, right_amount = $6, delta = $7
      WHERE id = $1 AND resolved_at IS NULL`,
    [live.id, live.left, live.right, live.delta, resolution.left, resolution.right, resolution.delta],
  );
  await appendBreakEvent(client, live.id, 'resolved', { ...resolution, detail: live.delta === null ? null : `last delta ${live.delta}` }, 'system', null, fenceToken);
  await recordEffects(client, live.boundary, live.id, effects);
}

/** The outbound JSON of docs/contract.md §8 (`recon.alert.*`; the resolution adds its own fields). */
export function alertOf(live: LiveBreak): BreakAlert {
  return {
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
}

/** `recon.resolved.*`: the alert's fields with the amounts at resolution, and the last difference seen while live. */
export function resolutionOf(live: LiveBreak, resolution: Pick<LiveBreak, 'left' | 'right' | 'delta'>, resolvedAt: string): BreakAlert {
  return {
    ...alertOf(live), left: resolution.left, right: resolution.right, delta: resolution.delta,
    resolvedAt, lastLeft: live.left, lastRight: live.right, lastDelta: live.delta,
  };
}

export function amountsOf(c: BreakCandidate): Pick<LiveBreak, 'left' | 'right' | 'delta' | 'detail'> {
  const decimal = (v: bigint | undefined): string | null => (v === undefined ? null : minorToDecimal(v, moneyScale));
  return {
    left: decimal(c.leftMinor),
    right: decimal(c.rightMinor),
    delta: c.leftMinor !== undefined && c.rightMinor !== undefined ? decimal(c.leftMinor - c.rightMinor) : null,
    detail: c.detail ?? null,
  };
}

/** An amount as Postgres returns numeric(38,18) ("-2.000000000000000000") in its wire form ("-2"), as the alerts carry it. */
export function wireAmount(text: string | null): string | null {
  return text === null ? null : minorToDecimal(signedDecimalToMinor(text, moneyScale), moneyScale);
}

import { randomUUID } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { z } from 'zod';
import type { AccountCommandClient } from '../../actors/command-client.js';
import type { Pool } from '../../db/pool.js';
import { queryRows } from '../../db/rows.js';
import type { NatsNames } from '../../nats/names.js';
import type { Logger } from '../../observability/logger.js';
import type { DurableWrites } from '../durable-writes.js';
import { reconLimits } from '../limits.js';
import { breakKinds, closeRecordedKinds, keyedBreakKinds } from './break-kinds.js';
import { type Agreement, type BreakActionOutcome, type BreakAlert, type BreakCandidate, type LiveBreak } from './break.js';
import { alertOf, amountsOf, appendBreakEvent, insertBreak, liveRowSchema, lockBreakRow, resolutionOf, resolveBreak, wireAmount } from './break-rows.js';
import { OutboxDrainer, type OutboxEffect } from './outbox.js';

export interface BreakRegistryDeps {
  boundary: string;
  pool: Pool;
  js: JetStreamClient;
  names: NatsNames;
  log: Logger;
  writes: DurableWrites;
  /** Carries out `command` effects (a freeze); absent: such effects wait in the outbox. */
  commands?: AccountCommandClient;
  /** The side effects of a break opening (freeze, pause withdrawals), recorded with it. */
  effectsOnRaised?(live: LiveBreak): OutboxEffect[];
  /** The side effects of a break resolving (resume withdrawals), recorded with it. */
  effectsOnResolved?(live: LiveBreak): OutboxEffect[];
  /** A durable write failed in the background (the outbox drainer); FencedError among them. */
  onWriteFailed(error: unknown): void;
  /** Default reconLimits.liveBreaksHeldMax. */
  liveBreaksHeldMax?: number;
}

const uniqueViolation = '23505';

const fingerprintOf = (c: Pick<BreakCandidate, 'kind' | 'key'>): string => `${c.kind}|${c.key}`;

/** A meta-alert paged through NATS before Postgres could record it. */
interface UnrecordedMeta {
  live: LiveBreak;
  published: boolean;
  /** Its page in flight: recording it meanwhile would page it a second time through the outbox. */
  publishing: Promise<void> | null;
}

/**
 * The live breaks of one boundary, keyed by fingerprint (kind, key). A fingerprint is
 * paged once when it opens and once when it resolves, however long it persists between.
 * Every change of a break is one transaction (fenced under the leader lease) that updates
 * `recon_breaks`, appends its `recon_break_events` row and records its effects (alert,
 * resolution, freeze, pauses) in `recon_outbox`; the drainer then carries them out until
 * they are done, idempotent by Nats-Msg-Id and command id (ADR 0020).
 */
export class BreakRegistry {
  private readonly live = new Map<string, LiveBreak>();
  private readonly unrecordedMeta = new Map<string, UnrecordedMeta>();
  /** The meta-alerts being recorded (see retryUnrecorded). */
  private recording: Promise<void> = Promise.resolve();
  /** Live breaks of the keyed kinds held in `live`. */
  private keyedHeld = 0;
  /** Live breaks recorded in recon_breaks but not held (a storm, ADR 0026): not paged, no effects. */
  private unheld = 0;
  private readonly heldMax: number;
  private readonly outbox: OutboxDrainer;

  constructor(private readonly deps: BreakRegistryDeps) {
    this.heldMax = deps.liveBreaksHeldMax ?? reconLimits.liveBreaksHeldMax;
    this.outbox = new OutboxDrainer({
      channels: [deps.boundary], pool: deps.pool, js: deps.js, writes: deps.writes, log: deps.log,
      ...(deps.commands ? { commands: deps.commands } : {}),
      onBacklog: (_channel, pending) => void this.raiseMeta({ kind: breakKinds.reconcilerError, key: 'outbox', detail: `${pending} break effects waiting in the outbox (limit ${reconLimits.outboxPendingMax}); none is dropped` }, Date.now()).catch(() => undefined),
      onWriteFailed: (error) => deps.onWriteFailed(error),
      beforeRound: () => this.retryUnrecorded(),
    });
  }

  /** Loads the breaks that are still open or acknowledged (after a restart), and re-drives their pending effects. */
  async load(): Promise<void> {
    // The meta-breaks and the oldest keyed ones, up to the cap; the rest stay unheld (a storm).
    const keyed = [...keyedBreakKinds];
    const result = await this.deps.pool.query(
      `(SELECT id, kind, break_key, user_id, currency, left_amount, right_amount, delta, detail, status, first_seen_at
          FROM recon_breaks WHERE boundary = $1 AND resolved_at IS NULL AND status IN ('open', 'acknowledged', 'accepted') AND NOT kind = ANY($2::text[]))
       UNION ALL
       (SELECT id, kind, break_key, user_id, currency, left_amount, right_amount, delta, detail, status, first_seen_at
          FROM recon_breaks WHERE boundary = $1 AND resolved_at IS NULL AND status IN ('open', 'acknowledged', 'accepted') AND kind = ANY($2::text[])
         ORDER BY first_seen_at, id LIMIT $3)`,
      [this.deps.boundary, keyed, this.heldMax],
    );
    const counted = await this.deps.pool.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM recon_breaks WHERE boundary = $1 AND resolved_at IS NULL AND status IN ('open', 'acknowledged', 'accepted') AND kind = ANY($2::text[])`,
      [this.deps.boundary, keyed],
    );
    this.live.clear();
    this.keyedHeld = 0;
    for (const raw of result.rows) {
      const r = liveRowSchema.parse(raw);
      const live: LiveBreak = {
        id: r.id, boundary: this.deps.boundary, kind: r.kind, key: r.break_key,
        userId: r.user_id, currency: r.currency,
        left: wireAmount(r.left_amount), right: wireAmount(r.right_amount), delta: wireAmount(r.delta), detail: r.detail,
        status: r.status, firstSeenAtMs: r.first_seen_at.getTime(),
      };
      this.live.set(fingerprintOf(live), live);
      if (keyedBreakKinds.has(live.kind)) this.keyedHeld++;
    }
    this.unheld = Number(counted.rows[0]?.n ?? 0) - this.keyedHeld;
  }

  /**
   * Takes in the breaks another writer recorded for this boundary in Postgres (the close's
   * negative balances, ADR 0029): listed, counted and acted on like this registry's own, and
   * their effects carried out now by this registry's drainer.
   */
  async adoptRecorded(): Promise<void> {
    await this.load();
    void this.outbox.kick();
  }

  /** Starts re-driving the outbox (now, after every change, and every outboxRetryMs). */
  startEffects(): void {
    this.outbox.start();
  }

  async stopEffects(): Promise<void> {
    await this.outbox.stop();
    // A meta-alert paged and not yet recorded would be unknown to the next instance, which could
    // then never resolve it: record it now (if Postgres answers; if not, it stays paged only).
    if (this.unrecordedMeta.size > 0) {
      await this.retryUnrecorded().catch((error: unknown) => {
        this.deps.log.warn({ event: 'recon.meta_unrecorded_at_stop', boundary: this.deps.boundary, count: this.unrecordedMeta.size, err: (error as Error).message }, 'stopping with paged meta-alerts not recorded');
      });
    } else {
      await this.recording.catch(() => undefined);
    }
  }

  /** Effects recorded and not yet carried out. */
  get effectsPending(): number {
    return this.outbox.pending;
  }

  /** Open or acknowledged (accepted ones are known and tolerated), held or not. */
  get openCount(): number {
    return this.list().filter((b) => b.status !== 'accepted').length + this.unheld;
  }

  /** Live breaks recorded in recon_breaks but not held in memory (a break storm). */
  get unheldCount(): number {
    return this.unheld;
  }

  has(kind: string, key: string): boolean {
    return this.live.has(fingerprintOf({ kind, key }));
  }

  list(): LiveBreak[] {
    return [...this.live.values()];
  }

  /** The difference has outlived its grace window: open a break unless this fingerprint already has one. */
  async raise(candidate: BreakCandidate, firstSeenAtMs: number): Promise<LiveBreak> {
    const existing = this.live.get(fingerprintOf(candidate));
    if (existing) {
      Object.assign(existing, amountsOf(candidate));
      return existing;
    }
    const live = this.newLive(candidate, firstSeenAtMs, randomUUID());
    if (keyedBreakKinds.has(candidate.kind) && this.keyedHeld >= this.heldMax) {
      await this.recordUnheld(live);
      return live;
    }
    try {
      await this.record(live, [this.alertEffect(live)]);
    } catch (error) {
      // The fingerprint is live in Postgres but not here (a commit whose answer was lost):
      // take Postgres's view; that break's alert is already in the outbox.
      if ((error as { code?: unknown }).code !== uniqueViolation) throw error;
      await this.load();
      const recorded = this.live.get(fingerprintOf(candidate));
      if (!recorded) throw error;
      Object.assign(recorded, amountsOf(candidate));
      return recorded;
    }
    return live;
  }

  /**
   * A meta-break (the reconciler failing, e.g. Postgres unreachable): paged through NATS
   * first, then recorded with the same break id once Postgres answers (retried by
   * `retryUnrecorded` and by every later call), so the page never depends on Postgres.
   */
  async raiseMeta(candidate: BreakCandidate, nowMs: number): Promise<void> {
    const fingerprint = fingerprintOf(candidate);
    const existing = this.live.get(fingerprint);
    if (existing) {
      Object.assign(existing, amountsOf(candidate));
      return;
    }
    let meta = this.unrecordedMeta.get(fingerprint);
    if (!meta) {
      meta = { live: this.newLive(candidate, nowMs, randomUUID()), published: false, publishing: null };
      this.unrecordedMeta.set(fingerprint, meta);
    }
    if (!meta.published) {
      const paging = meta;
      paging.publishing ??= this.publishMeta(paging).finally(() => {
        paging.publishing = null;
      });
      await paging.publishing;
    }
    await this.retryUnrecorded();
  }

  private async publishMeta(meta: UnrecordedMeta): Promise<void> {
    const effect = this.alertEffect(meta.live);
    try {
      await this.deps.js.publish(effect.subject, JSON.stringify(effect.payload), { msgID: effect.msgId, timeout: reconLimits.outboxPublishTimeoutMs });
      meta.published = true;
    } catch (error) {
      this.deps.log.error({ event: 'recon.meta_alert_unpublished', boundary: this.deps.boundary, breakId: meta.live.id, err: (error as Error).message }, 'meta-alert not published yet');
    }
  }

  /**
   * Records the meta-alerts paged while Postgres was away (their alert row is recorded as done:
   * not published twice). One call at a time: raiseMeta and the drainer's round both call it,
   * and two at once would insert the same break twice (a duplicate key, paged as an error).
   */
  retryUnrecorded(): Promise<void> {
    this.recording = this.recording.catch(() => undefined).then(() => this.recordUnrecorded());
    return this.recording;
  }

  private async recordUnrecorded(): Promise<void> {
    for (const [fingerprint, meta] of [...this.unrecordedMeta]) {
      // Its page settles first (bounded by the publish timeout): recorded as done if it landed, as pending if not.
      if (meta.publishing) await meta.publishing;
      if (this.unrecordedMeta.get(fingerprint) !== meta) continue;
      const alert = this.alertEffect(meta.live);
      await this.record(meta.live, [alert], meta.published ? new Set([alert.msgId]) : undefined);
      this.unrecordedMeta.delete(fingerprint);
    }
  }

  /** The sides agree again: resolve this fingerprint's break, if any, carrying the agreed amounts. */
  async resolve(kind: string, key: string, agreed?: Agreement): Promise<void> {
    const fingerprint = fingerprintOf({ kind, key });
    // A meta-alert paged while Postgres was away is recorded first, so its resolution is paged too
    // (one whose page is in flight waits for it: it may land).
    await this.unrecordedMeta.get(fingerprint)?.publishing;
    if (this.unrecordedMeta.get(fingerprint)?.published) await this.retryUnrecorded();
    else this.unrecordedMeta.delete(fingerprint);
    const live = this.live.get(fingerprint);
    if (!live) {
      if (this.unheld > 0 && keyedBreakKinds.has(kind)) await this.resolveUnheld(kind, key, agreed);
      return;
    }
    const resolution = agreed ? amountsOf({ kind, key, leftMinor: agreed.leftMinor, rightMinor: agreed.rightMinor }) : { left: null, right: null, delta: null };
    const payload: BreakAlert = resolutionOf(live, resolution, new Date().toISOString());
    const effects: OutboxEffect[] = [
      { effect: 'publish', subject: this.deps.names.reconResolvedSubject(this.deps.boundary), payload, msgId: `resolved:${live.id}` },
      ...(this.deps.effectsOnResolved?.(live) ?? []),
    ];
    await this.deps.writes.transaction((client) => resolveBreak(client, live, resolution, effects, this.deps.writes.fenceToken));
    this.live.delete(fingerprint);
    if (keyedBreakKinds.has(live.kind)) this.keyedHeld--;
    this.deps.log.info({ event: 'recon.break_resolved', boundary: live.boundary, breakId: live.id, kind: live.kind, key: live.key, lastDelta: live.delta }, 'reconciliation break resolved');
    void this.outbox.kick();
  }

  /**
   * Saves the latest amounts and last-seen time of every live break this registry judges (called
   * at checkpoints). Not those the close records (closeRecordedKinds): their amounts are the
   * close's, and this copy may predate its last refresh (ADR 0029).
   */
  async touchAll(): Promise<void> {
    const judged = this.list().filter((b) => !closeRecordedKinds.has(b.kind));
    if (judged.length === 0) return;
    await this.deps.writes.transaction(async (client) => {
      await client.query(
        `UPDATE recon_breaks b SET last_seen_at = now(), left_amount = u.l, right_amount = u.r, delta = u.d
           FROM unnest($1::uuid[], $2::numeric[], $3::numeric[], $4::numeric[]) AS u(id, l, r, d) WHERE b.id = u.id AND b.resolved_at IS NULL`,
        [judged.map((b) => b.id), judged.map((b) => b.left), judged.map((b) => b.right), judged.map((b) => b.delta)],
      );
    });
  }

  byId(breakId: string): LiveBreak | undefined {
    return this.list().find((b) => b.id === breakId);
  }

  /**
   * An operator acknowledged (working on it) or accepted (known, tolerated, with a reason) a
   * live break. Either way it is not paged again while it persists; an accepted one no
   * longer counts as open. Kept in the append-only recon_break_actions and recon_break_events.
   *
   * Decided on the row, locked, not on the copy held here: another writer (the close, ADR 0029)
   * may have refreshed or resolved it since the copy was loaded. A resolved row is left as it is,
   * nothing is recorded, and the stale copy is dropped; a live one is acted on with its amounts.
   */
  async act(breakId: string, action: 'acknowledge' | 'accept', actorId: string, reason: string | null): Promise<BreakActionOutcome> {
    const held = this.byId(breakId);
    if (!held) return { outcome: 'unknown', breakId };
    const outcome = await this.deps.writes.transaction(async (client): Promise<BreakActionOutcome> => {
      const row = await lockBreakRow(client, this.deps.boundary, breakId);
      if (!row) return { outcome: 'unknown', breakId };
      if (row.resolved_at !== null || row.status === 'resolved') {
        return { outcome: 'not_live', breakId, status: row.status, resolvedAt: row.resolved_at?.toISOString() ?? null };
      }
      let status = row.status;
      if (action === 'acknowledge') {
        if (status === 'open') {
          await client.query(`UPDATE recon_breaks SET status = 'acknowledged', acknowledged_by = $2, acknowledged_at = now() WHERE id = $1`, [breakId, actorId]);
          status = 'acknowledged';
        }
      } else {
        await client.query(`UPDATE recon_breaks SET status = 'accepted', accepted_by = $2, accepted_reason = $3, accepted_at = now() WHERE id = $1`, [breakId, actorId, reason]);
        status = 'accepted';
      }
      const current: LiveBreak = {
        ...held, left: wireAmount(row.left_amount), right: wireAmount(row.right_amount), delta: wireAmount(row.delta), detail: row.detail, status,
      };
      await client.query('INSERT INTO recon_break_actions (break_id, action, actor_id, reason) VALUES ($1, $2, $3, $4)', [breakId, action, actorId, reason]);
      await appendBreakEvent(client, breakId, action === 'accept' ? 'accepted' : 'acknowledged', current, actorId, reason, this.deps.writes.fenceToken);
      return { outcome: 'acted', live: current };
    });
    if (outcome.outcome !== 'acted') {
      this.forget(held);
      this.deps.log.warn({ event: 'recon.break_action_refused', boundary: held.boundary, kind: held.kind, action, actorId, ...outcome }, `break ${action} refused: no longer live`);
      return outcome;
    }
    Object.assign(held, outcome.live);
    this.deps.log.info({ event: `recon.break_${action === 'accept' ? 'accepted' : 'acknowledged'}`, boundary: held.boundary, breakId, actorId, reason }, `break ${action === 'accept' ? 'accepted' : 'acknowledged'}`);
    return { outcome: 'acted', live: held };
  }

  /** A held copy whose row is no longer live (another writer resolved it): dropped, as a re-load would. */
  private forget(live: LiveBreak): void {
    const fingerprint = fingerprintOf(live);
    if (this.live.get(fingerprint) !== live) return;
    this.live.delete(fingerprint);
    if (keyedBreakKinds.has(live.kind)) this.keyedHeld--;
  }

  /**
   * A storm: the break is recorded (its row and `raised` event, once per fingerprint: the live
   * index dedupes) but not held, not paged and not acted on (no freeze, no pause); the one
   * break_storm meta-break pages instead.
   */
  private async recordUnheld(live: LiveBreak): Promise<void> {
    let inserted = false;
    await this.deps.writes.transaction(async (client) => {
      const result = await client.query(
        `INSERT INTO recon_breaks (id, boundary, kind, break_key, user_id, currency, left_amount, right_amount, delta, detail, status, first_seen_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, now())
         ON CONFLICT (boundary, kind, break_key) WHERE status IN ('open', 'acknowledged') DO NOTHING`,
        [live.id, live.boundary, live.kind, live.key, live.userId, live.currency, live.left, live.right, live.delta, live.detail, new Date(live.firstSeenAtMs)],
      );
      if (result.rowCount === 0) return;
      inserted = true;
      await appendBreakEvent(client, live.id, 'raised', live, 'system', `break storm: more than ${this.heldMax} live breaks; recorded, not paged, no effects (ADR 0026)`, this.deps.writes.fenceToken);
    });
    if (!inserted) return;
    this.unheld++;
    await this.raiseMeta({
      kind: breakKinds.breakStorm, key: 'breaks',
      detail: `more than ${this.heldMax} live breaks at once (limit liveBreaksHeldMax, src/recon/limits.ts): the first ${this.heldMax} are paged and acted on; ` +
        `every further one is recorded in recon_breaks (boundary ${this.deps.boundary}, status open) but not paged, frozen or paused. Resolves when they are back under the limit.`,
    }, Date.now());
  }

  /** A key agreeing again whose break may be one of the unheld: resolved in recon_breaks (never paged, so no resolution page). */
  private async resolveUnheld(kind: string, key: string, agreed: Agreement | undefined): Promise<void> {
    const resolution = agreed ? amountsOf({ kind, key, leftMinor: agreed.leftMinor, rightMinor: agreed.rightMinor }) : { left: null, right: null, delta: null };
    let resolvedRows = 0;
    await this.deps.writes.transaction(async (client) => {
      const rows = await queryRows(client, z.object({ id: z.string() }),
        `UPDATE recon_breaks SET status = CASE WHEN status = 'accepted' THEN status ELSE 'resolved' END,
                resolved_at = now(), last_seen_at = now(), last_left = left_amount, last_right = right_amount, last_delta = delta,
                left_amount = $4, right_amount = $5, delta = $6
          WHERE boundary = $1 AND kind = $2 AND break_key = $3 AND resolved_at IS NULL RETURNING id`,
        [this.deps.boundary, kind, key, resolution.left, resolution.right, resolution.delta]);
      for (const row of rows) await appendBreakEvent(client, row.id, 'resolved', { ...resolution, detail: null }, 'system', 'unheld (break storm): no page', this.deps.writes.fenceToken);
      resolvedRows = rows.length;
    });
    this.unheld = Math.max(0, this.unheld - resolvedRows);
    if (resolvedRows > 0 && this.unheld === 0) await this.resolve(breakKinds.breakStorm, 'breaks');
  }

  private newLive(candidate: BreakCandidate, firstSeenAtMs: number, id: string): LiveBreak {
    return {
      id, boundary: this.deps.boundary, kind: candidate.kind, key: candidate.key,
      userId: candidate.userId ?? null, currency: candidate.currency ?? null,
      ...amountsOf(candidate), status: 'open', firstSeenAtMs,
    };
  }

  private alertEffect(live: LiveBreak): OutboxEffect {
    return { effect: 'publish', subject: this.deps.names.reconAlertSubject(this.deps.boundary), payload: alertOf(live), msgId: `alert:${live.id}` };
  }

  /** One transaction: the break row, its `raised` (or `reopened`) event, its alert and side effects. */
  private async record(live: LiveBreak, effects: OutboxEffect[], alreadyDone?: ReadonlySet<string>): Promise<void> {
    const all = [...effects, ...(this.deps.effectsOnRaised?.(live) ?? [])];
    await this.deps.writes.transaction((client) => insertBreak(client, live, all, this.deps.writes.fenceToken, alreadyDone));
    this.live.set(fingerprintOf(live), live);
    if (keyedBreakKinds.has(live.kind)) this.keyedHeld++;
    this.deps.log.warn({ event: 'recon.break_raised', boundary: live.boundary, breakId: live.id, kind: live.kind, key: live.key, delta: live.delta }, 'reconciliation break');
    void this.outbox.kick();
  }
}

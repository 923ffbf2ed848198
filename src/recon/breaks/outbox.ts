import type { JetStreamClient } from '@nats-io/jetstream';
import { z } from 'zod';
import { accountCommandSchema } from '../../actors/account-command.js';
import type { AccountCommandClient } from '../../actors/command-client.js';
import type { Pool, PoolClient } from '../../db/pool.js';
import { queryRows } from '../../db/rows.js';
import type { Logger } from '../../observability/logger.js';
import type { DurableWrites } from '../durable-writes.js';
import { reconLimits } from '../limits.js';

/**
 * One effect of a break's change, recorded in the transaction that changes the break and
 * carried out afterwards (ADR 0020). `msgId` makes it idempotent where it lands: the
 * Nats-Msg-Id of a publication, or the command id of an account command.
 */
export type OutboxEffect =
  | { effect: 'publish'; subject: string; payload: unknown; msgId: string }
  | { effect: 'command'; subject: string; payload: unknown; msgId: string };

/**
 * Inside the break's transaction: the effects become rows (a repeat of the same msgId is a
 * no-op). `alreadyDone`: effects carried out before they could be recorded (a meta-alert paged
 * while Postgres was away), kept for the record and not repeated.
 */
export async function recordEffects(
  client: PoolClient, boundary: string, breakId: string | null, effects: readonly OutboxEffect[], alreadyDone: ReadonlySet<string> = new Set(),
): Promise<void> {
  for (const e of effects) {
    await client.query(
      `INSERT INTO recon_outbox (boundary, break_id, effect, subject, payload, msg_id, done_at)
       VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::boolean THEN now() END)
       ON CONFLICT (msg_id) DO NOTHING`,
      [boundary, breakId, e.effect, e.subject, JSON.stringify(e.payload), e.msgId, alreadyDone.has(e.msgId)],
    );
  }
}

const pendingRowSchema = z.object({
  id: z.string(),
  effect: z.enum(['publish', 'command']),
  subject: z.string(),
  payload: z.string(),
  msg_id: z.string(),
});

export interface OutboxDrainerDeps {
  boundary: string;
  pool: Pool;
  js: JetStreamClient;
  writes: DurableWrites;
  log: Logger;
  /** Carries out `command` effects (freezes); without it they wait (and say so in the log). */
  commands?: AccountCommandClient;
  /** More than `outboxPendingMax` rows waiting: the reconciler must page (reconciler_error), never drop. */
  onBacklog(pending: number): void;
  /** A background write failed (Postgres away, or refused by the fence: the instance steps down). */
  onWriteFailed(error: unknown): void;
  /** Runs first in every round (the registry records meta-alerts paged while Postgres was away). */
  beforeRound?(): Promise<void>;
}

/**
 * Carries out a boundary's pending outbox rows in order, each independently (a failing
 * alert stream does not hold a freeze back), marking each done once it landed. Runs after
 * every commit that adds rows, at start-up and every `outboxRetryMs` until nothing waits.
 */
export class OutboxDrainer {
  private draining: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  pending = 0;

  constructor(private readonly deps: OutboxDrainerDeps) {}

  start(): void {
    this.stopped = false;
    this.timer ??= setInterval(() => void this.kick(), reconLimits.outboxRetryMs);
    void this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.draining;
  }

  /** Drains now (or right after the drain in progress). Never throws. After stop, rows wait for the next start. */
  kick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.draining) {
      this.again = true;
      return this.draining;
    }
    this.draining = (async () => {
      do {
        this.again = false;
        await this.deps.beforeRound?.().catch((error: unknown) => this.deps.onWriteFailed(error));
        await this.drainOnce().catch((error: unknown) => this.deps.onWriteFailed(error));
      } while (this.again);
    })().finally(() => {
      this.draining = null;
    });
    return this.draining;
  }

  private async drainOnce(): Promise<void> {
    const { pool, boundary } = this.deps;
    const [count] = await queryRows(pool, z.object({ n: z.number() }), 'SELECT count(*)::int AS n FROM recon_outbox WHERE boundary = $1 AND done_at IS NULL', [boundary]);
    this.pending = count?.n ?? 0;
    if (this.pending === 0) return;
    if (this.pending > reconLimits.outboxPendingMax) this.deps.onBacklog(this.pending);
    const rows = await pool.query(
      `SELECT id::text, effect, subject, payload::text AS payload, msg_id FROM recon_outbox
        WHERE boundary = $1 AND done_at IS NULL ORDER BY id LIMIT $2`,
      [boundary, reconLimits.outboxBatchMax],
    );
    for (const raw of rows.rows) {
      const row = pendingRowSchema.parse(raw);
      let failure: string | null = null;
      try {
        await this.carryOut(row);
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
      }
      await this.deps.writes.transaction((client) =>
        failure === null
          ? client.query('UPDATE recon_outbox SET done_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1', [row.id])
          : client.query('UPDATE recon_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [row.id, failure.slice(0, 1_000)]));
      if (failure === null) {
        this.pending--;
        this.deps.log.info({ event: 'recon.outbox_done', boundary, outboxId: row.id, subject: row.subject, msgId: row.msg_id }, 'break effect carried out');
      } else {
        this.deps.log.warn({ event: 'recon.outbox_retry', boundary, outboxId: row.id, subject: row.subject, msgId: row.msg_id, err: failure }, 'break effect failed; retried next round');
      }
    }
  }

  private async carryOut(row: z.infer<typeof pendingRowSchema>): Promise<void> {
    if (row.effect === 'publish') {
      await this.deps.js.publish(row.subject, row.payload, { msgID: row.msg_id, timeout: reconLimits.outboxPublishTimeoutMs });
      return;
    }
    if (!this.deps.commands) throw new Error('no command client on this instance: the command waits');
    const command = accountCommandSchema.omit({ replyTo: true }).parse(JSON.parse(row.payload));
    if (command.commandId !== row.msg_id) throw new Error(`outbox row ${row.id}: command id ${command.commandId} ≠ msg_id ${row.msg_id}`);
    await this.deps.commands.enqueue(command);
  }
}

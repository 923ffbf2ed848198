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

/** A recorded effect as the outbox holds it: `payload` is its JSON text. */
export interface RecordedEffect {
  effect: OutboxEffect['effect'];
  subject: string;
  payload: string;
  msgId: string;
}

/** What carrying out an effect needs: where it lands, and how its row is marked. */
export interface EffectCarrier {
  js: JetStreamClient;
  /** The mark's transaction: fenced under the leader lease, plain for an admin request. */
  writes: DurableWrites;
  /** Carries out `command` effects (freezes); without it they wait. */
  commands?: AccountCommandClient;
}

/**
 * Carries out one recorded effect and marks its row: done once it landed, else its attempt and
 * error for the next round. Idempotent where it lands (the msgId), and the mark only touches a
 * row still pending, so a drainer and an admin request carrying out the same row agree. Returns
 * the failure, null once done; throws only when the mark cannot be written.
 */
export async function carryOutEffect(carrier: EffectCarrier, row: RecordedEffect): Promise<string | null> {
  let failure: string | null = null;
  try {
    await deliver(carrier, row);
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
  }
  await carrier.writes.transaction((client) =>
    failure === null
      ? client.query('UPDATE recon_outbox SET done_at = now(), attempts = attempts + 1, last_error = NULL WHERE msg_id = $1 AND done_at IS NULL', [row.msgId])
      : client.query('UPDATE recon_outbox SET attempts = attempts + 1, last_error = $2 WHERE msg_id = $1 AND done_at IS NULL', [row.msgId, failure.slice(0, 1_000)]));
  return failure;
}

async function deliver(carrier: EffectCarrier, row: RecordedEffect): Promise<void> {
  if (row.effect === 'publish') {
    await carrier.js.publish(row.subject, row.payload, { msgID: row.msgId, timeout: reconLimits.outboxPublishTimeoutMs });
    return;
  }
  if (!carrier.commands) throw new Error('no command client on this instance: the command waits');
  const command = accountCommandSchema.omit({ replyTo: true }).parse(JSON.parse(row.payload));
  if (command.commandId !== row.msgId) throw new Error(`outbox command id ${command.commandId} ≠ msg_id ${row.msgId}`);
  await carrier.commands.enqueue(command);
}

const pendingCountSchema = z.object({ channel: z.string(), n: z.number() });

const pendingRowSchema = z.object({
  id: z.string(),
  channel: z.string(),
  effect: z.enum(['publish', 'command']),
  subject: z.string(),
  payload: z.string(),
  msg_id: z.string(),
});

export interface OutboxDrainerDeps extends EffectCarrier {
  /**
   * The outbox channels drained (`recon_outbox.boundary`): a running boundary's own, or the
   * leader's list of those no running reconciler drains.
   */
  channels: readonly string[];
  pool: Pool;
  log: Logger;
  /** More than `outboxPendingMax` rows of `channel` waiting: page (reconciler_error), never drop. */
  onBacklog(channel: string, pending: number): void;
  /** A background write failed (Postgres away, or refused by the fence: the instance steps down). */
  onWriteFailed(error: unknown): void;
  /** Runs first in every round (the registry records meta-alerts paged while Postgres was away). */
  beforeRound?(): Promise<void>;
}

/**
 * Carries out the pending outbox rows of its channels, each channel's in order and each row
 * independently (a failing alert stream does not hold a freeze back), marking each done once it
 * landed. A round takes at most `outboxBatchMax` rows of each channel, so one channel's backlog
 * does not hold the others back. Runs after every commit that adds rows, at start-up and every
 * `outboxRetryMs` until nothing waits.
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
    const { pool, channels } = this.deps;
    const counts = await queryRows(pool, pendingCountSchema,
      'SELECT boundary AS channel, count(*)::int AS n FROM recon_outbox WHERE boundary = ANY($1) AND done_at IS NULL GROUP BY boundary', [channels]);
    this.pending = counts.reduce((sum, c) => sum + c.n, 0);
    if (this.pending === 0) return;
    for (const c of counts) if (c.n > reconLimits.outboxPendingMax) this.deps.onBacklog(c.channel, c.n);
    const rows = await queryRows(pool, pendingRowSchema,
      `SELECT o.id::text, o.boundary AS channel, o.effect, o.subject, o.payload::text AS payload, o.msg_id
         FROM unnest($1::text[]) AS c(channel)
        CROSS JOIN LATERAL (
          SELECT id, boundary, effect, subject, payload, msg_id FROM recon_outbox
           WHERE boundary = c.channel AND done_at IS NULL ORDER BY id LIMIT $2) o
        ORDER BY o.id`,
      [counts.map((c) => c.channel), reconLimits.outboxBatchMax]);
    for (const row of rows) {
      const failure = await carryOutEffect(this.deps, { effect: row.effect, subject: row.subject, payload: row.payload, msgId: row.msg_id });
      const logged = { boundary: row.channel, outboxId: row.id, subject: row.subject, msgId: row.msg_id };
      if (failure === null) {
        this.pending--;
        this.deps.log.info({ event: 'recon.outbox_done', ...logged }, 'break effect carried out');
      } else {
        this.deps.log.warn({ event: 'recon.outbox_retry', ...logged, err: failure }, 'break effect failed; retried next round');
      }
    }
  }
}

import type { JetStreamClient } from '@nats-io/jetstream';
import { adjustBalanceMessage, type AdjustBalanceCommand } from '../adapters/matching-engine/engine-commands.js';
import type { Pool, PoolClient } from '../db/pool.js';
import type { NatsNames } from '../nats/names.js';
import { carryOutEffect, recordEffects, type OutboxEffect } from './breaks/outbox.js';
import { durableWrites } from './durable-writes.js';

/**
 * Commands to the matching engine that follow a posting this engine made (an admin adjustment,
 * a staking reward) go through the same outbox as a break's effects (ADR 0020): recorded in
 * the transaction that posts the journal, so a crash between the commit and the publish never
 * leaves the ledger credited and the engine not (a me_db break nobody caused). The leader
 * drains them like a boundary's rows; the command id is the Nats-Msg-Id and the matching
 * engine's idempotency key, so a re-drive after a publish that did land changes nothing.
 */
export const engineCommandChannel = 'matching_engine';

export function adjustBalanceEffect(names: NatsNames, command: Omit<AdjustBalanceCommand, 'ts'>, tsIso: string): OutboxEffect {
  const { subject, body } = adjustBalanceMessage(names, command, tsIso);
  return { effect: 'publish', subject, payload: body, msgId: command.commandId };
}

/** Inside the posting's transaction. */
export function recordEngineCommands(client: PoolClient, effects: readonly OutboxEffect[]): Promise<void> {
  return recordEffects(client, engineCommandChannel, null, effects);
}

/**
 * After the posting committed, where a caller waits for it (an admin request): carry it out now
 * (published, its row marked done), so the engine follows at once. If this fails or the process
 * dies first, the row is still pending and the leader's drainer carries it out.
 */
export async function publishEngineCommandNow(pool: Pool, js: JetStreamClient, effect: OutboxEffect): Promise<void> {
  const failure = await carryOutEffect({ js, writes: durableWrites(pool, null) }, { effect: effect.effect, subject: effect.subject, payload: JSON.stringify(effect.payload), msgId: effect.msgId });
  if (failure !== null) throw new Error(`engine command ${effect.msgId} not sent yet (${failure}); it is recorded, and the leader's drainer sends it`);
}

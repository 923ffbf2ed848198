import type { JetStreamClient } from '@nats-io/jetstream';
import { z } from 'zod';
import { commandIdSchema, userIdSchema } from '../../actors/identifiers.js';
import type { NatsNames } from '../../nats/names.js';
import { currencySchema } from './contract.js';

/**
 * Commands this engine sends to the matching engine (docs/matching-engine-contract.md), kept on
 * the ME_COMMANDS stream; `commandId` is the Nats-Msg-Id and the engine's idempotency key.
 * `me.cmd.cancel_orders.<userId>` `{commandId, userId, reason, ts}`: cancel every open order
 * (unlocking its funds). `me.cmd.adjust_balance.<userId>` `{commandId, userId, currency, amount, ts}`:
 * add the signed `amount` to the user's available balance (the ledger side is already posted).
 */
export const cancelOrdersCommandSchema = z.object({ commandId: commandIdSchema, userId: userIdSchema, reason: z.string().min(1).max(256), ts: z.string() });
export const adjustBalanceCommandSchema = z.object({
  commandId: commandIdSchema,
  userId: userIdSchema,
  currency: currencySchema,
  amount: z.string().regex(/^-?\d+(\.\d+)?$/, 'amount must be a signed decimal string'),
  ts: z.string(),
});
export type CancelOrdersCommand = z.infer<typeof cancelOrdersCommandSchema>;
export type AdjustBalanceCommand = z.infer<typeof adjustBalanceCommandSchema>;

export async function sendCancelOrders(js: JetStreamClient, names: NatsNames, command: Omit<CancelOrdersCommand, 'ts'>): Promise<void> {
  await js.publish(names.meCancelOrdersSubject(command.userId), JSON.stringify({ ...command, ts: new Date().toISOString() }), { msgID: command.commandId });
}

/** The subject and body of an adjust_balance command (sent now, or recorded in an outbox and sent later). */
export function adjustBalanceMessage(names: NatsNames, command: Omit<AdjustBalanceCommand, 'ts'>, tsIso: string): { subject: string; body: AdjustBalanceCommand } {
  return { subject: names.meAdjustBalanceSubject(command.userId), body: { ...command, ts: tsIso } };
}

export async function sendAdjustBalance(js: JetStreamClient, names: NatsNames, command: Omit<AdjustBalanceCommand, 'ts'>): Promise<void> {
  const { subject, body } = adjustBalanceMessage(names, command, new Date().toISOString());
  await js.publish(subject, JSON.stringify(body), { msgID: command.commandId });
}

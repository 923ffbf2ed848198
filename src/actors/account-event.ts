import { z } from 'zod';
import { accountStates, authorities } from '../fsm/index.js';
import type { TransitionRow } from './account-record.js';

/** Payload of `account.<event>.<userId>`: what downstream services (orders, custody, notifications) act on. */
export const accountEventSchema = z.object({
  transitionId: z.string(),
  userId: z.string(),
  seq: z.number().int().positive(),
  from: z.enum(accountStates).nullable(),
  to: z.enum(accountStates),
  reasonCode: z.string(),
  authority: z.enum(authorities),
  actorId: z.string(),
  commandId: z.string(),
  at: z.string(),
  hash: z.string(),
});
export type AccountEvent = z.infer<typeof accountEventSchema>;

export function accountEventOf(row: TransitionRow): AccountEvent {
  return {
    transitionId: row.transitionId,
    userId: row.userId,
    seq: row.seq,
    from: row.from,
    to: row.to,
    reasonCode: row.reasonCode,
    authority: row.authority,
    actorId: row.actorId,
    commandId: row.commandId,
    at: new Date(row.atMs).toISOString(),
    hash: row.hash,
  };
}

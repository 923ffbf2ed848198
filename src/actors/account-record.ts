import { createHash } from 'node:crypto';
import { z } from 'zod';
import { accountStates, authorities, type AccountState, type Authority } from '../fsm/index.js';

export const genesisHash = '0'.repeat(64);

/** One accepted transition, exactly as it is written to account_state_transitions. */
export const transitionRowSchema = z.object({
  transitionId: z.string().uuid(),
  userId: z.string(),
  seq: z.number().int().positive(),
  commandId: z.string(),
  from: z.enum(accountStates).nullable(),
  to: z.enum(accountStates),
  reasonCode: z.string(),
  authority: z.enum(authorities),
  actorId: z.string(),
  atMs: z.number().int(),
  prevHash: z.string().length(64),
  hash: z.string().length(64),
});
export type TransitionRow = z.infer<typeof transitionRowSchema>;

/** The account's KV value. It carries its last transition so a crash between KV and Postgres can be repaired. */
export const accountRecordSchema = z.object({
  userId: z.string(),
  state: z.enum(accountStates),
  closureRequestedAt: z.number().int().nullable(),
  seq: z.number().int().positive(),
  last: transitionRowSchema,
});
export type AccountRecord = z.infer<typeof accountRecordSchema>;

/** The chained hash of a transition row: any edit to a field, or a removed row, breaks every later hash. */
export function transitionHash(row: Omit<TransitionRow, 'hash'>): string {
  const canonical = [
    row.prevHash,
    row.userId,
    String(row.seq),
    row.from ?? '',
    row.to,
    row.reasonCode,
    row.authority,
    row.actorId,
    row.commandId,
    row.transitionId,
    new Date(row.atMs).toISOString(),
  ].join('|');
  return createHash('sha256').update(canonical).digest('hex');
}

export interface ChainBreak { seq: number; reason: string }

/** Checks a full, ordered history against its hash chain; returns the first break or null. */
export function verifyChain(rows: readonly TransitionRow[]): ChainBreak | null {
  let prevHash = genesisHash;
  for (const [index, row] of rows.entries()) {
    if (row.seq !== index + 1) return { seq: row.seq, reason: `expected seq ${index + 1}` };
    if (row.prevHash !== prevHash) return { seq: row.seq, reason: 'prev_hash does not match the previous row' };
    if (transitionHash(row) !== row.hash) return { seq: row.seq, reason: 'hash does not match the row' };
    prevHash = row.hash;
  }
  return null;
}

export function newTransitionRow(input: {
  transitionId: string;
  userId: string;
  seq: number;
  commandId: string;
  from: AccountState | null;
  to: AccountState;
  reasonCode: string;
  authority: Authority;
  actorId: string;
  atMs: number;
  prevHash: string;
}): TransitionRow {
  return { ...input, hash: transitionHash(input) };
}

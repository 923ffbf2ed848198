/**
 * The matching engine's balances as they cross IPC to bench/snapshot-child.ts: one row per
 * (user, currency), minor units as decimal strings (IPC's JSON has no bigint).
 */
import { z } from 'zod';
import type { BalanceRow } from '../src/adapters/matching-engine/contract.js';

export type EngineStateRow = [userId: string, currency: string, total: string, locked: string, available: string];

export const engineStateRowOf = (r: BalanceRow): EngineStateRow =>
  [r.userId, r.currency, r.totalMinor.toString(), r.lockedMinor.toString(), r.availableMinor.toString()];

const minor = z.string().regex(/^-?[0-9]+$/).transform((s) => BigInt(s));

/** `{ state: { asOfSeq, rows } }`, parsed back into BalanceRows. */
export const engineStateMessage = z.object({
  state: z.object({
    asOfSeq: z.number().int().nonnegative(),
    rows: z.array(z.tuple([z.string(), z.string(), minor, minor, minor])),
  }),
}).transform(({ state }) => ({
  asOfSeq: state.asOfSeq,
  rows: state.rows.map(([userId, currency, totalMinor, lockedMinor, availableMinor]): BalanceRow => ({ userId, currency, totalMinor, lockedMinor, availableMinor })),
}));

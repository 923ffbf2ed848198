import { pendingClosureGuard, snapshotAfter } from './closure.js';
import { checkEdge } from './edges.js';
import type { AccountSnapshot, AccountState, Authority } from './states.js';

/** An audit row as far as the FSM cares. */
export interface TransitionRecord {
  from: AccountState | null;
  to: AccountState;
  authority: Authority;
  reasonCode: string;
  atMs: number;
}

/** A row that could not have been produced by `decideTransition` from the rows before it. */
export class ReplayError extends Error {
  override readonly name = 'ReplayError';
  constructor(
    readonly index: number,
    readonly record: TransitionRecord,
    detail: string,
  ) {
    super(`audit row ${index} (${record.from ?? '(new)'} -> ${record.to} by ${record.authority}): ${detail}`);
  }
}

/**
 * Fold audit rows (oldest first) back into the snapshot. Each row must start where the
 * previous one ended and be an allowed edge for its authority. The pending-closure guard
 * is enforced because the log alone determines it; balance and cooling-off guards are not,
 * since the log does not record balances and the cooling-off setting may have changed.
 */
export function replayTransitions(records: readonly TransitionRecord[]): AccountSnapshot | null {
  let snapshot: AccountSnapshot | null = null;
  records.forEach((record, index) => {
    const from = snapshot === null ? null : snapshot.state;
    if (record.from !== from) {
      throw new ReplayError(index, record, `account was ${from ?? '(new)'} at this point`);
    }
    const edgeReason = checkEdge(from, record.to, record.authority);
    if (edgeReason !== null) throw new ReplayError(index, record, edgeReason);
    if (snapshot !== null) {
      const guardReason = pendingClosureGuard(snapshot, record.to, record.authority);
      if (guardReason !== null) throw new ReplayError(index, record, guardReason);
    }
    snapshot = snapshotAfter(record.to, record.authority, record.reasonCode, record.atMs);
  });
  return snapshot;
}

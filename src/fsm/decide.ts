import { balancesGuard, coolingOffGuard, pendingClosureGuard, snapshotAfter } from './closure.js';
import { checkEdge } from './edges.js';
import type { AccountSnapshot, AccountState, Authority } from './states.js';

export interface TransitionRequest {
  target: AccountState;
  authority: Authority;
  reasonCode: string;
  /** The clock, passed in so the FSM stays pure. */
  nowMs: number;
  /** The caller looked at the ledger; only consulted for → closed. */
  balancesZero: boolean;
  /** Setting; see DEFAULT_COOLING_OFF_MS. */
  coolingOffMs: number;
}

export type ForbiddenReason =
  | 'NO_SUCH_EDGE' // not in the table: from terminal states, self-loops, create of existing / transition of missing account
  | 'AUTHORITY_NOT_ALLOWED' // edge exists but not for this authority
  | 'BALANCES_NOT_ZERO'
  | 'COOLING_OFF_NOT_ELAPSED'
  | 'COOLING_OFF_ELAPSED' // self cancel after the window
  | 'NO_PENDING_CLOSURE';

export interface ForbiddenTransition {
  code: 'FORBIDDEN_TRANSITION';
  reason: ForbiddenReason;
  from: AccountState | null;
  to: AccountState;
  authority: Authority;
  message: string;
}

export type TransitionResult =
  | { ok: true; from: AccountState | null; to: AccountState; next: AccountSnapshot }
  | { ok: false; error: ForbiddenTransition };

const explanations: Record<ForbiddenReason, string> = {
  NO_SUCH_EDGE: 'no such transition',
  AUTHORITY_NOT_ALLOWED: 'authority not allowed for this transition',
  BALANCES_NOT_ZERO: 'balances are not all zero',
  COOLING_OFF_NOT_ELAPSED: 'closure cooling-off has not elapsed',
  COOLING_OFF_ELAPSED: 'closure cooling-off has elapsed; it can no longer be cancelled',
  NO_PENDING_CLOSURE: 'no closure is pending',
};

function forbidden(from: AccountState | null, req: TransitionRequest, reason: ForbiddenReason): TransitionResult {
  const message = `${from ?? '(new)'} -> ${req.target} by ${req.authority}: ${explanations[reason]}`;
  return { ok: false, error: { code: 'FORBIDDEN_TRANSITION', reason, from, to: req.target, authority: req.authority, message } };
}

/**
 * Decides one transition. Never mutates `current`; a rejection carries no snapshot, so the
 * caller's state stays exactly as it was. Checks run table first, then the closure
 * guards, then balances, so the reason names the most structural obstacle.
 * Throws RangeError on a non-finite clock or a negative/non-finite cooling-off: those are
 * caller bugs, and NaN would silently make every time comparison false.
 */
export function decideTransition(current: AccountSnapshot | null, req: TransitionRequest): TransitionResult {
  if (!Number.isFinite(req.nowMs)) throw new RangeError(`nowMs must be finite, got ${req.nowMs}`);
  if (!Number.isFinite(req.coolingOffMs) || req.coolingOffMs < 0) {
    throw new RangeError(`coolingOffMs must be a finite non-negative number, got ${req.coolingOffMs}`);
  }
  const from = current === null ? null : current.state;

  const edgeReason = checkEdge(from, req.target, req.authority);
  if (edgeReason !== null) return forbidden(from, req, edgeReason);

  if (current !== null) {
    const guardReason =
      pendingClosureGuard(current, req.target, req.authority) ??
      coolingOffGuard(current, req.target, req.authority, req.nowMs, req.coolingOffMs);
    if (guardReason !== null) return forbidden(from, req, guardReason);
  }

  const balanceReason = balancesGuard(req.target, req.balancesZero);
  if (balanceReason !== null) return forbidden(from, req, balanceReason);

  return { ok: true, from, to: req.target, next: snapshotAfter(req.target, req.authority, req.reasonCode, req.nowMs) };
}

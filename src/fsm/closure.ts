import type { AccountSnapshot, AccountState, Authority } from './states.js';

/** The closure cooling-off: a holder's request to close waits, cancellable, before it executes. */

export const DEFAULT_COOLING_OFF_MS = 30 * 24 * 60 * 60 * 1000;

/** Reason code that marks entry into `restricted` as a closure request whoever asks. */
export const CLOSURE_REQUESTED = 'closure_requested';

/** A holder only ever restricts their own account in order to close it. */
export function startsPendingClosure(authority: Authority, reasonCode: string): boolean {
  return authority === 'self' || reasonCode === CLOSURE_REQUESTED;
}

/**
 * The snapshot after an accepted transition. `closureRequestedAt` is only meaningful in
 * `restricted`, and `restricted` → `restricted` is not an edge, so entering sets it and
 * leaving clears it.
 */
export function snapshotAfter(to: AccountState, authority: Authority, reasonCode: string, atMs: number): AccountSnapshot {
  const pending = to === 'restricted' && startsPendingClosure(authority, reasonCode);
  return { state: to, closureRequestedAt: pending ? atMs : null };
}

/** Edges whose use by this authority depends on a pending closure (admin is never bound). */
function closureBound(from: AccountState, to: AccountState, authority: Authority): 'cancel' | 'execute' | null {
  if (from !== 'restricted') return null;
  if (to === 'active' && authority === 'self') return 'cancel';
  if (to === 'closed' && authority === 'system') return 'execute';
  return null;
}

/** Needs only the snapshot, so replay can enforce it too. */
export function pendingClosureGuard(
  current: AccountSnapshot,
  to: AccountState,
  authority: Authority,
): 'NO_PENDING_CLOSURE' | null {
  if (closureBound(current.state, to, authority) === null) return null;
  return current.closureRequestedAt === null ? 'NO_PENDING_CLOSURE' : null;
}

/** Assumes `pendingClosureGuard` passed. The window is [requestedAt, requestedAt + coolingOffMs). */
export function coolingOffGuard(
  current: AccountSnapshot,
  to: AccountState,
  authority: Authority,
  nowMs: number,
  coolingOffMs: number,
): 'COOLING_OFF_NOT_ELAPSED' | 'COOLING_OFF_ELAPSED' | null {
  const bound = closureBound(current.state, to, authority);
  if (bound === null || current.closureRequestedAt === null) return null;
  const elapsed = nowMs >= current.closureRequestedAt + coolingOffMs;
  if (bound === 'execute') return elapsed ? null : 'COOLING_OFF_NOT_ELAPSED';
  return elapsed ? 'COOLING_OFF_ELAPSED' : null;
}

/** Closing with funds left would strand them, whoever closes and from wherever. */
export function balancesGuard(to: AccountState, balancesZero: boolean): 'BALANCES_NOT_ZERO' | null {
  return to === 'closed' && !balancesZero ? 'BALANCES_NOT_ZERO' : null;
}

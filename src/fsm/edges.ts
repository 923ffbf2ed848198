import { accountStates, isTerminal, type AccountState, type Authority } from './states.js';

/**
 * One allowed edge. `from: null` is account creation. Guards that depend on the
 * closure cooling-off or on balances live in `closure.ts`; this table only says who may
 * attempt the move at all.
 */
export interface Edge {
  readonly from: AccountState | null;
  readonly to: AccountState;
  readonly authorities: readonly Authority[];
}

function edge(from: AccountState | null, to: AccountState, who: readonly Authority[]): Edge {
  return Object.freeze({ from, to, authorities: Object.freeze([...who]) });
}

/** Every allowed edge, one row per (from, to). Anything absent is forbidden. */
export const allowedEdges: ReadonlyArray<Edge> = Object.freeze([
  edge(null, 'pending_kyc', ['self']),
  edge('pending_kyc', 'kyc_approved', ['system', 'admin']),
  edge('pending_kyc', 'kyc_rejected', ['system', 'admin']),
  // Resubmission of KYC documents after a rejection.
  edge('kyc_rejected', 'pending_kyc', ['self']),
  edge('kyc_rejected', 'closed', ['self', 'admin']),
  // Only the ledger knows when the first deposit is credited, hence system only.
  edge('kyc_approved', 'active', ['system']),
  edge('kyc_approved', 'suspended', ['system', 'admin']),
  edge('active', 'suspended', ['system', 'admin']),
  edge('active', 'restricted', ['self', 'system', 'admin']),
  // A holder cannot use a closure request to escape a suspension, hence no self here.
  edge('suspended', 'restricted', ['system', 'admin']),
  edge('suspended', 'active', ['system', 'admin']),
  // self: only to cancel a pending closure within the cooling-off window.
  edge('restricted', 'active', ['self', 'admin']),
  // system: only once the cooling-off has elapsed; both: only with zero balances.
  edge('restricted', 'closed', ['system', 'admin']),
  ...accountStates.filter((s) => !isTerminal(s)).map((s) => edge(s, 'banned', ['admin'])),
]);

const edgeKey = (from: AccountState | null, to: AccountState): string => `${from ?? '(new)'}>${to}`;

const edgeIndex: ReadonlyMap<string, Edge> = new Map(allowedEdges.map((e) => [edgeKey(e.from, e.to), e]));

export function findEdge(from: AccountState | null, to: AccountState): Edge | undefined {
  return edgeIndex.get(edgeKey(from, to));
}

/** The table-level verdict: null when `authority` may attempt from → to. */
export function checkEdge(
  from: AccountState | null,
  to: AccountState,
  authority: Authority,
): 'NO_SUCH_EDGE' | 'AUTHORITY_NOT_ALLOWED' | null {
  const e = findEdge(from, to);
  if (e === undefined) return 'NO_SUCH_EDGE';
  return e.authorities.includes(authority) ? null : 'AUTHORITY_NOT_ALLOWED';
}

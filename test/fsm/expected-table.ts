import type { AccountState, Authority } from '../../src/fsm/index.js';

/**
 * The design brief's transition table, written out by hand and independently of
 * `src/fsm/edges.ts`, so a mistake in the implementation's table makes tests fail.
 * Key 'new' = no account yet. A target missing from a row is not an edge.
 */
export type FromKey = AccountState | 'new';

export const expectedEdges: Record<FromKey, Partial<Record<AccountState, readonly Authority[]>>> = {
  new: { pending_kyc: ['self'] },
  pending_kyc: { kyc_approved: ['system', 'admin'], kyc_rejected: ['system', 'admin'], banned: ['admin'] },
  kyc_rejected: { pending_kyc: ['self'], closed: ['self', 'admin'], banned: ['admin'] },
  kyc_approved: { active: ['system'], suspended: ['system', 'admin'], banned: ['admin'] },
  active: { suspended: ['system', 'admin'], restricted: ['self', 'admin', 'system'], banned: ['admin'] },
  suspended: { restricted: ['admin', 'system'], active: ['system', 'admin'], banned: ['admin'] },
  restricted: { active: ['self', 'admin'], closed: ['system', 'admin'], banned: ['admin'] },
  closed: {},
  banned: {},
};

export const allStates = [
  'pending_kyc',
  'kyc_rejected',
  'kyc_approved',
  'active',
  'suspended',
  'restricted',
  'closed',
  'banned',
] as const satisfies readonly AccountState[];
export const allAuthorities = ['self', 'system', 'admin'] as const satisfies readonly Authority[];
export const fromKeys: readonly FromKey[] = ['new', ...allStates];

export function expectedVerdict(from: FromKey, to: AccountState, authority: Authority): 'ALLOWED' | 'NO_SUCH_EDGE' | 'AUTHORITY_NOT_ALLOWED' {
  const who = expectedEdges[from][to];
  if (who === undefined) return 'NO_SUCH_EDGE';
  return who.includes(authority) ? 'ALLOWED' : 'AUTHORITY_NOT_ALLOWED';
}

export const DAY = 24 * 60 * 60 * 1000;
export const COOLING_OFF = 30 * DAY;
export const T0 = Date.UTC(2025, 0, 1);

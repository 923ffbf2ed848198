import { findEdge } from './edges.js';
import type { AccountState } from './states.js';

/**
 * Event name published for an accepted transition: account.<event>.<userId>.
 * Throws on a pair that is not an edge, since publishing one would announce a move
 * the FSM never allows.
 */
export function eventNameFor(from: AccountState | null, to: AccountState): string {
  if (findEdge(from, to) === undefined) {
    throw new RangeError(`no event for ${from ?? '(new)'} -> ${to}: not an allowed transition`);
  }
  switch (to) {
    case 'pending_kyc':
      return from === null ? 'created' : 'kyc_resubmitted';
    case 'kyc_approved':
      return 'kyc_approved';
    case 'kyc_rejected':
      return 'kyc_rejected';
    case 'active':
      // First activation and a return from suspended/restricted are different business events.
      return from === 'kyc_approved' ? 'activated' : 'restored';
    case 'suspended':
      return 'suspended';
    case 'restricted':
      return 'restricted';
    case 'closed':
      return 'closed';
    case 'banned':
      return 'banned';
  }
}

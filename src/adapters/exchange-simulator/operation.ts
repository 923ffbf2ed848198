import type { BalanceDelta } from './balance-registry.js';

/** House accounts live only in the ledger (docs/contract.md §7). */
export const houseCustody = 'house:custody';
/** Fees charged on trades wait here until the close accrues them to house:fee_revenue (docs/contract.md). */
export const houseFees = 'house:fees_unaccrued';

export type ReferenceType = 'deposit' | 'withdrawal' | 'trade' | 'fee' | 'admin_adjustment';

export interface LedgerEntryDraft {
  userId: string;
  currency: string;
  /** Signed: credits positive, debits negative. */
  amountMinor: bigint;
  referenceType: ReferenceType;
  referenceId: string;
}

/** A double-entry journal: its entries sum to zero per currency. */
export interface Journal {
  journalId: string;
  entries: LedgerEntryDraft[];
}

export type OperationKind = 'deposit' | 'withdrawal_request' | 'withdrawal' | 'order' | 'cancel' | 'trade' | 'engine_only';

/**
 * One business event of the exchange: what the engine changes (one balance event per key it
 * touches) and, when money moves, the ledger journal that books it. Locks move funds between
 * available and locked inside the engine and book nothing.
 */
export interface Operation {
  kind: OperationKind;
  engine: BalanceDelta[];
  journal: Journal | null;
}

/** Asserted where journals are built and again before they are written. */
export function journalImbalance(journal: Journal): string | null {
  const sums = new Map<string, bigint>();
  for (const e of journal.entries) sums.set(e.currency, (sums.get(e.currency) ?? 0n) + e.amountMinor);
  for (const [currency, sum] of sums) if (sum !== 0n) return `journal ${journal.journalId} sums to ${sum} minor units in ${currency}, not 0`;
  return null;
}

export const isHouse = (userId: string): boolean => userId.startsWith('house:');

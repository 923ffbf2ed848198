import type { LiveBreak } from '../breaks/break.js';

export interface MeDbSeal {
  boundary: string;
  businessDate: string;
  cut: { engineSeq: number; ledgerTxId: string; ledgerId: string; positions: number };
  digest: string;
  openBreaks: LiveBreak[];
  sealedAt: string;
}

/** A position's leaf in the cut digest: both sides' totals. */
export const leafValue = (engine: bigint, ledger: bigint): string => `${engine}|${ledger}`;

import type { ChainCut } from '../../adapters/chain/staking-follower.js';
import type { StakingPoolRpc } from '../../adapters/chain/staking-pool-rpc.js';
import { minorToDecimal } from '../../config/decimal.js';
import { moneyScale, type LiveBreak } from '../breaks/break.js';
import type { LeafSetDigest } from '../leaf-set-digest.js';
import type { Comparison } from './comparison.js';
import type { DbPositions } from './positions.js';

/** The consistent cut a comparison was made on, as sealed (amounts as strings: base units and whole tokens). */
export interface DbChainCut {
  chainId: string;
  poolAddress: string;
  confirmations: number;
  headBlock: number;
  blockNumber: number;
  blockHash: string;
  totalStakedBase: string;
  totalStaked: string;
  positionsTotalBase: string;
  positionsTotal: string;
  eventsNetTotalBase: string;
  attributable: boolean;
  addresses: number;
  positionRows: number;
  readAt: string;
}

export interface DbChainSeal {
  boundary: string;
  businessDate: string;
  /** `stale`: the chain could not be read at seal time; the cut is the last good one. */
  cut: DbChainCut & { stale: boolean; staleReason?: string };
  digest: string;
  openBreaks: LiveBreak[];
  sealedAt: string;
}

/** The latest consistent cut read, and what it was compared with. */
export interface LastCut {
  cut: ChainCut;
  headBlock: number;
  db: DbPositions;
  comparison: Comparison;
  eventsNetTotalBase: bigint;
  readAtMs: number;
}

/** Leaves: the total and every address with a stake on either side, each `db|chain` in base units. */
export function updateDigest(digest: LeafSetDigest, comparison: Comparison): void {
  const seen = new Set<string>(['total']);
  digest.set('total', `${comparison.total.leftBase}|${comparison.total.rightBase}`);
  for (const p of comparison.positions) {
    const key = `address/${p.address}`;
    if (p.leftBase === 0n && p.rightBase === 0n) continue;
    seen.add(key);
    digest.set(key, `${p.leftBase}|${p.rightBase}`);
  }
  for (const key of [...digest.keys()]) if (!seen.has(key)) digest.set(key, null);
}

/** The cut as the seal records it: amounts as strings, base units and whole tokens. */
export function cutRecordOf(last: LastCut, rpc: StakingPoolRpc, confirmations: number): DbChainCut {
  return {
    chainId: rpc.chainId.toString(),
    poolAddress: rpc.poolAddress,
    confirmations,
    headBlock: last.headBlock,
    blockNumber: last.cut.blockNumber,
    blockHash: last.cut.blockHash,
    totalStakedBase: last.cut.totalStakedBase.toString(),
    totalStaked: tokens(last.cut.totalStakedBase),
    positionsTotalBase: last.db.totalBase.toString(),
    positionsTotal: tokens(last.db.totalBase),
    eventsNetTotalBase: last.eventsNetTotalBase.toString(),
    attributable: last.comparison.attributable,
    addresses: last.db.byAddress.size,
    positionRows: last.db.rows,
    readAt: new Date(last.readAtMs).toISOString(),
  };
}

/** Base units as whole tokens (a decimal string). */
export const tokens = (base: bigint): string => minorToDecimal(base, moneyScale);

import type { StakingDelta } from '../../adapters/chain/staking-pool-rpc.js';
import type { DbPositions } from './positions.js';

/**
 * db_chain's rule, in one place. `left` is the database (Σ staking_positions), `right` the
 * chain at the confirmed block; both in base units, compared exactly.
 *
 * - equal: the sides agree (a break resolves).
 * - in_flight: the database shows the confirmed value plus a prefix of the logs still above
 *   it (the staking service credits a stake before it has the confirmations): not a break
 *   however long the confirmations take, and not an agreement either.
 * - different: anything else; it becomes a break once it outlives the grace window.
 *
 * Positions are attributable when the pool's logs account for its total (Σ per-staker nets
 * = totalStaked() at the same block). Then Σ position deltas = the total delta, so a
 * difference is paged per address (kind 'position') and not again as a total; when they are
 * not (a pool that changes totals without logs, or a node that lost logs), only the total is.
 */
export type Verdict = 'equal' | 'in_flight' | 'different';

export interface ChainSide {
  totalStakedBase: bigint;
  eventsNetTotalBase: bigint;
  netOf(address: string): bigint;
  addresses(): Iterable<string>;
  /** Logs above the confirmed block, in chain order. */
  pending: readonly StakingDelta[];
}

export interface KeyComparison {
  leftBase: bigint;
  rightBase: bigint;
  verdict: Verdict;
}

export interface PositionComparison extends KeyComparison {
  address: string;
  userId: string | null;
}

export interface Comparison {
  attributable: boolean;
  total: KeyComparison;
  /** Every address on either side (or named in `alsoCheck`), equal ones included. */
  positions: PositionComparison[];
}

export function verdictOf(leftBase: bigint, rightBase: bigint, pendingDeltas: readonly bigint[]): Verdict {
  if (leftBase === rightBase) return 'equal';
  let value = rightBase;
  for (const delta of pendingDeltas) {
    value += delta;
    if (value === leftBase) return 'in_flight';
  }
  return 'different';
}

export function compareSides(db: DbPositions, chain: ChainSide, alsoCheck: Iterable<string>): Comparison {
  const pendingByAddress = new Map<string, bigint[]>();
  for (const delta of chain.pending) {
    const list = pendingByAddress.get(delta.staker) ?? [];
    list.push(delta.amountBase);
    pendingByAddress.set(delta.staker, list);
  }
  const addresses = new Set<string>([...db.byAddress.keys(), ...chain.addresses(), ...alsoCheck]);
  const positions: PositionComparison[] = [];
  for (const address of addresses) {
    const held = db.byAddress.get(address);
    const leftBase = held?.amountBase ?? 0n;
    const rightBase = chain.netOf(address);
    positions.push({ address, userId: held?.userId ?? null, leftBase, rightBase, verdict: verdictOf(leftBase, rightBase, pendingByAddress.get(address) ?? []) });
  }
  return {
    attributable: chain.eventsNetTotalBase === chain.totalStakedBase,
    total: { leftBase: db.totalBase, rightBase: chain.totalStakedBase, verdict: verdictOf(db.totalBase, chain.totalStakedBase, chain.pending.map((d) => d.amountBase)) },
    positions,
  };
}


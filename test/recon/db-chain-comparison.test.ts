import { describe, expect, it } from 'vitest';
import type { StakingDelta } from '../../src/adapters/chain/staking-pool-rpc.js';
import { compareSides, verdictOf, type ChainSide } from '../../src/recon/db-chain/comparison.js';
import { GraceClock } from '../../src/recon/grace-clock.js';
import type { DbPositions } from '../../src/recon/db-chain/positions.js';

const pending = (staker: string, amountBase: bigint, blockNumber = 100): StakingDelta =>
  ({ staker, amountBase, blockNumber, blockHash: '0xh', logIndex: 0, txHash: '0xt' });

function db(entries: Record<string, bigint>): DbPositions {
  const byAddress = new Map(Object.entries(entries).map(([address, amountBase]) => [address, { amountBase, userId: `user-${address}`, rows: 1 }]));
  return { byAddress, totalBase: Object.values(entries).reduce((s, v) => s + v, 0n), rows: byAddress.size };
}

function chain(nets: Record<string, bigint>, totalStakedBase?: bigint, pendingDeltas: StakingDelta[] = []): ChainSide {
  const map = new Map(Object.entries(nets));
  const eventsNetTotalBase = [...map.values()].reduce((s, v) => s + v, 0n);
  return { totalStakedBase: totalStakedBase ?? eventsNetTotalBase, eventsNetTotalBase, netOf: (a) => map.get(a) ?? 0n, addresses: () => map.keys(), pending: pendingDeltas };
}

describe('db_chain comparison', () => {
  it('equal, in flight (the database shows a prefix of the pending logs) or different', () => {
    expect(verdictOf(5n, 5n, [])).toBe('equal');
    expect(verdictOf(8n, 5n, [3n])).toBe('in_flight');
    expect(verdictOf(6n, 5n, [3n, -2n])).toBe('in_flight');
    expect(verdictOf(7n, 5n, [3n, -2n])).toBe('different');
    expect(verdictOf(4n, 5n, [])).toBe('different');
  });

  it('attributes a difference to the address that carries it when the logs explain the total', () => {
    const c = compareSides(db({ '0xa': 10n, '0xb': 7n }), chain({ '0xa': 10n, '0xb': 5n }), []);
    expect(c.attributable).toBe(true);
    expect(c.total).toEqual({ leftBase: 17n, rightBase: 15n, verdict: 'different' });
    expect(c.positions.filter((p) => p.verdict !== 'equal')).toEqual([{ address: '0xb', userId: 'user-0xb', leftBase: 7n, rightBase: 5n, verdict: 'different' }]);
  });

  it('does not attribute when totalStaked() is not the sum of the logs', () => {
    const c = compareSides(db({ '0xa': 10n }), chain({ '0xa': 10n }, 9n), []);
    expect(c.attributable).toBe(false);
    expect(c.total.verdict).toBe('different');
  });

  it('a stake credited before its confirmations is in flight, per address and in total', () => {
    const c = compareSides(db({ '0xa': 10n, '0xc': 4n }), chain({ '0xa': 10n }, undefined, [pending('0xc', 4n)]), []);
    expect(c.total.verdict).toBe('in_flight');
    expect(c.positions.find((p) => p.address === '0xc')?.verdict).toBe('in_flight');
  });

  it('checks addresses named by live breaks even when both sides dropped them', () => {
    const c = compareSides(db({}), chain({}), ['0xgone']);
    expect(c.positions).toEqual([{ address: '0xgone', userId: null, leftBase: 0n, rightBase: 0n, verdict: 'equal' }]);
  });

  it('the clock keeps the first time a key differed, and forgets it once equal or in flight', () => {
    const clock = new GraceClock();
    expect(clock.observe('k', true, 1_000)).toBe(1_000);
    expect(clock.observe('k', true, 2_000)).toBe(1_000);
    expect(clock.observe('k', false, 3_000)).toBeNull();
    expect(clock.observe('k', true, 4_000)).toBe(4_000);
  });
});

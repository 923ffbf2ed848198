import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfirmedStakes } from '../../../src/adapters/chain/confirmed-stakes.js';
import type { StakingDelta } from '../../../src/adapters/chain/staking-pool-rpc.js';

const stakers = ['0xaa', '0xbb', '0xcc'];
const hashOf = (fork: number, n: number) => `0x${fork}-${n}`;

function delta(fork: number, blockNumber: number, logIndex: number, staker: string, amountBase: bigint): StakingDelta {
  return { blockNumber, blockHash: hashOf(fork, blockNumber), logIndex, txHash: `0xt${fork}-${blockNumber}-${logIndex}`, staker, amountBase };
}

/** Nets computed from scratch: what the incremental state must always equal. */
function netsOf(deltas: StakingDelta[]): Map<string, bigint> {
  const nets = new Map<string, bigint>();
  for (const d of deltas) nets.set(d.staker, (nets.get(d.staker) ?? 0n) + d.amountBase);
  for (const [k, v] of nets) if (v === 0n) nets.delete(k);
  return nets;
}

describe('ConfirmedStakes', () => {
  it('rewinds exactly to any kept hash, whatever was pruned (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ blocks: fc.integer({ min: 1, max: 6 }), logs: fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.bigInt({ min: -5n, max: 9n })), { maxLength: 4 }) }), { minLength: 1, maxLength: 30 }),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 2, max: 12 }),
      (ranges, rewindBack, windowBlocks) => {
        const stakes = ConfirmedStakes.startingAt(1, { number: 0, hash: hashOf(0, 0) }, { blocks: windowBlocks, deltasMax: 20 });
        const all: StakingDelta[] = [];
        for (const range of ranges) {
          const from = stakes.nextBlock;
          const to = from + range.blocks - 1;
          const deltas = range.logs.map(([s, amount], i) => delta(0, from + (i % range.blocks), i, stakers[s] ?? '0xaa', amount))
            .sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
          stakes.applyRange(deltas, { number: to, hash: hashOf(0, to) });
          all.push(...deltas);
          expect(new Map(stakes.stakerNets())).toEqual(netsOf(all));
          expect(stakes.eventsNetTotal).toBe(all.reduce((s, d) => s + d.amountBase, 0n));
        }
        const kept = stakes.storedHashes();
        const target = kept[Math.max(0, kept.length - 1 - rewindBack)];
        if (!target) return;
        stakes.rewindTo(target);
        expect(stakes.processed).toEqual(target);
        expect(new Map(stakes.stakerNets())).toEqual(netsOf(all.filter((d) => d.blockNumber <= target.number)));
      },
    ), { numRuns: 300 });
  });

  it('keeps the window bounded by blocks and by deltas', () => {
    const stakes = ConfirmedStakes.startingAt(1, null, { blocks: 10, deltasMax: 5 });
    for (let n = 1; n <= 100; n++) stakes.applyRange([delta(0, n, 0, '0xaa', 1n)], { number: n, hash: hashOf(0, n) });
    expect(stakes.windowDeltaCount).toBeLessThanOrEqual(5);
    expect(stakes.storedHashes()[0]?.number).toBeGreaterThanOrEqual(90);
    expect(stakes.netOf('0xaa')).toBe(100n);
  });

  it('hands over changes once, and after a failed save hands over everything', () => {
    const stakes = ConfirmedStakes.startingAt(5, { number: 4, hash: hashOf(0, 4) }, { blocks: 100, deltasMax: 100 });
    stakes.applyRange([delta(0, 6, 0, '0xbb', 7n)], { number: 8, hash: hashOf(0, 8) });
    const first = stakes.takeChanges();
    expect(first.reset).toBe(true);
    expect(first.deltasAdded).toHaveLength(1);
    expect(first.hashesAdded.map((h) => h.number)).toEqual([4, 6, 8]);
    expect(stakes.hasChanges).toBe(false);
    stakes.rewindTo({ number: 6, hash: hashOf(0, 6) });
    const second = stakes.takeChanges();
    expect(second).toMatchObject({ reset: false, rewoundAbove: 6, deltasAdded: [], hashesAdded: [] });
    stakes.resaveAll();
    const third = stakes.takeChanges();
    expect(third.reset).toBe(true);
    expect(third.stakersChanged.get('0xbb')).toBe(7n);
  });
});

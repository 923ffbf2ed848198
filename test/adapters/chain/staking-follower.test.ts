import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainMovedError, StakingFollower, type FollowerPoll, type StakingFollowerLimits } from '../../../src/adapters/chain/staking-follower.js';
import { StakingPoolRpc } from '../../../src/adapters/chain/staking-pool-rpc.js';
import { silentLogger } from '../../support/log.js';
import { startPoolOnAnvil, token, type PoolOnAnvil } from './pool-on-anvil.js';

const limits: StakingFollowerLimits = { confirmations: 3, logRangeBlocksMax: 4, rangesPerPollMax: 100, windowBlocks: 16, deltasWindowMax: 1_000, pendingBlocksMax: 64 };
let chain: PoolOnAnvil;
let rpc: StakingPoolRpc;
let follower: StakingFollower;

async function poll(): Promise<FollowerPoll> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await follower.poll();
    } catch (error) {
      if (!(error instanceof ChainMovedError) || attempt > 3) throw error;
    }
  }
}

/** The follower's view must equal the contract's own, at the confirmed block. */
async function expectMatchesContract(p: FollowerPoll): Promise<void> {
  expect(p.caughtUp).toBe(true);
  expect(p.cut?.blockNumber).toBe((await chain.head()) - 3);
  expect(p.cut?.blockHash).toBe(await chain.blockHash(p.cut?.blockNumber ?? -1));
  const stakes = follower.stakes;
  expect(stakes?.eventsNetTotal).toBe(p.cut?.totalStakedBase);
}

beforeAll(async () => {
  chain = await startPoolOnAnvil();
  rpc = await StakingPoolRpc.connect({ url: chain.anvil.url, poolAddress: chain.address, timeoutMs: 5_000 });
  follower = new StakingFollower(rpc, limits, silentLogger(), null);
});
afterAll(async () => {
  rpc?.destroy();
  await chain?.stop();
});

describe('StakingFollower on a real anvil', () => {
  it('follows Staked/Unstaked logs to the confirmed head and reads totalStaked() there', async () => {
    const [, a1, a2, a3] = chain.accounts as [string, string, string, string];
    await chain.send({ from: a1, fn: 'stake', amountBase: 10n * token });
    await chain.send({ from: a2, fn: 'stake', amountBase: 3n * token });
    await chain.mine(9);
    await chain.send({ from: a1, fn: 'unstake', amountBase: 4n * token });
    await chain.send({ from: a3, fn: 'stake', amountBase: 1n });
    await chain.mine(3);
    const p = await poll();
    await expectMatchesContract(p);
    expect(follower.stakes?.startBlock).toBe(chain.deployBlock);
    expect(p.cut?.totalStakedBase).toBe(await chain.totalStaked());
    for (const a of [a1, a2, a3]) expect(follower.stakes?.netOf(a)).toBe(await chain.stakedOf(a));
    expect(p.pending).toEqual([]);
    expect(follower.counters.rangesRead).toBeGreaterThan(1); // 4-block ranges
  });

  it('reports logs above the confirmed block as pending, not confirmed', async () => {
    const a4 = chain.accounts[4] ?? '';
    await chain.send({ from: a4, fn: 'stake', amountBase: 2n * token });
    const p = await poll();
    expect(p.pending.map((d) => [d.staker, d.amountBase])).toEqual([[a4, 2n * token]]);
    expect(follower.stakes?.netOf(a4)).toBe(0n);
    await chain.mine(3);
    const q = await poll();
    expect(q.pending).toEqual([]);
    expect(follower.stakes?.netOf(a4)).toBe(2n * token);
  });

  it('a reorg shallower than the confirmations never rewinds', async () => {
    const a5 = chain.accounts[5] ?? '';
    await poll();
    await chain.mine(2);
    await chain.reorg(2, [{ from: a5, fn: 'stake', amountBase: 5n * token, offset: 1 }]);
    const p = await poll();
    expect(p.rewind).toBeNull();
    expect(p.pending.map((d) => d.staker)).toEqual([a5]);
    await chain.mine(3);
    await expectMatchesContract(await poll());
    expect(follower.counters.rewinds).toBe(0);
    expect(follower.stakes?.netOf(a5)).toBe(5n * token);
  });

  it('a reorg deeper than the confirmations rewinds to the common ancestor and recomputes', async () => {
    const [a6, a7] = [chain.accounts[6] ?? '', chain.accounts[7] ?? ''];
    const staked = await chain.send({ from: a6, fn: 'stake', amountBase: 6n * token });
    await chain.mine(3);
    await poll();
    expect(follower.stakes?.processed?.number).toBe(staked.blockNumber);
    expect(follower.stakes?.netOf(a6)).toBe(6n * token);
    // Replace the last 5 blocks (both new logs confirmed): a6's stake lands a block earlier with
    // another amount, and a7 stakes in the block a6's old stake was in.
    await chain.reorg(5, [{ from: a6, fn: 'stake', amountBase: 1n * token, offset: 0 }, { from: a7, fn: 'stake', amountBase: 7n * token, offset: 1 }]);
    const p = await poll();
    expect(p.rewind).toMatchObject({ full: false, fromBlock: staked.blockNumber, deltasDropped: 1 });
    expect(p.rewind?.ancestorBlock).toBeLessThan(staked.blockNumber - 1);
    await expectMatchesContract(p);
    expect(follower.stakes?.netOf(a6)).toBe(1n * token);
    expect(follower.stakes?.netOf(a7)).toBe(7n * token);
    expect(follower.stakes?.netOf(a6)).toBe(await chain.stakedOf(a6));
    expect(follower.stakes?.netOf(a7)).toBe(await chain.stakedOf(a7));
    expect(follower.counters.rewinds).toBe(1);
  });

  it('a reorg deeper than the kept window re-reads the pool from its start', async () => {
    const a8 = chain.accounts[8] ?? '';
    await chain.send({ from: a8, fn: 'stake', amountBase: 8n * token });
    await chain.mine(30);
    await poll();
    const head = await chain.head();
    await chain.reorg(head - chain.deployBlock - 1, [{ from: a8, fn: 'stake', amountBase: 9n * token, offset: 0 }]);
    await chain.mine(3);
    const p = await poll();
    expect(p.rewind).toMatchObject({ full: true });
    await expectMatchesContract(p);
    expect(follower.stakes?.netOf(a8)).toBe(9n * token);
    expect(follower.counters.fullResyncs).toBe(1);
  });
});

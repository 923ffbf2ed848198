import type { Logger } from '../../observability/logger.js';
import { ChainValueError } from './chain-values.js';
import { ConfirmedStakes, type ProcessedBlock, type SavedStakes } from './confirmed-stakes.js';
import type { StakingDelta, StakingPoolRpc } from './staking-pool-rpc.js';

export interface StakingFollowerLimits {
  /** Blocks below the head before a block's state is read (CHAIN_CONFIRMATIONS). */
  confirmations: number;
  /** Blocks per eth_getLogs call (halved, down to 1, when a node refuses a range as too large). */
  logRangeBlocksMax: number;
  /** eth_getLogs ranges per poll: a long catch-up spreads over polls instead of stalling one. */
  rangesPerPollMax: number;
  /** How far below the processed block hashes and deltas are kept for a rewind. */
  windowBlocks: number;
  deltasWindowMax: number;
  /** Unconfirmed blocks read for in-flight deltas (the blocks above the confirmed one). */
  pendingBlocksMax: number;
  /** First block to read; omitted: the pool's deployment block, found by bisecting eth_getCode. */
  startBlock?: number;
}

export const defaultStakingFollowerLimits: Omit<StakingFollowerLimits, 'confirmations'> = {
  logRangeBlocksMax: 2_000,
  rangesPerPollMax: 25,
  windowBlocks: 1_000,
  deltasWindowMax: 100_000,
  pendingBlocksMax: 256,
};

/** The confirmed chain state the reconciler compares: block, hash, totalStaked() there. */
export interface ChainCut {
  blockNumber: number;
  blockHash: string;
  totalStakedBase: bigint;
}

export interface RewindReport {
  /** Processed block before the rewind. */
  fromBlock: number;
  /** The common ancestor it went back to (or the block before the start, for a full resync). */
  ancestorBlock: number;
  deltasDropped: number;
  /** No stored hash was left on the chain: everything was re-read from the start. */
  full: boolean;
}

export interface FollowerPoll {
  headNumber: number;
  /** head − confirmations: the highest block whose state is compared. */
  confirmedTarget: number;
  /** Every block up to confirmedTarget is processed; only then is `cut` set. */
  caughtUp: boolean;
  cut: ChainCut | null;
  /** Logs above the cut up to the head, in chain order: changes still in flight. */
  pending: StakingDelta[];
  deltasApplied: number;
  rewind: RewindReport | null;
}

/** The chain moved while a poll read it (a reorg in progress): nothing was applied; poll again. */
export class ChainMovedError extends Error {}

const rangeRefused = /range|limit|too many|exceed|response size|query returned more/i;

/**
 * Follows a StakingPool's Staked/Unstaked logs up to the confirmed head, block range by
 * block range, and reads totalStaked() at the last processed block. Each poll first checks
 * that the stored hash of the last processed block is still on the chain; if not (a reorg
 * deeper than the confirmations), it walks back to the common ancestor, drops the deltas
 * above it and re-reads from there. Reorgs shallower than the confirmations never reach a
 * processed block, so they never cause a rewind.
 */
export class StakingFollower {
  private confirmed: ConfirmedStakes | null;
  private rangeBlocks: number;
  readonly counters = { polls: 0, deltasApplied: 0, rewinds: 0, fullResyncs: 0, deltasDropped: 0, rangesRead: 0, chainMoved: 0 };

  constructor(
    private readonly rpc: StakingPoolRpc,
    private readonly limits: StakingFollowerLimits,
    private readonly log: Logger,
    saved: SavedStakes | null,
  ) {
    if (limits.windowBlocks <= limits.confirmations) throw new Error(`windowBlocks (${limits.windowBlocks}) must exceed the confirmations (${limits.confirmations})`);
    this.confirmed = saved ? ConfirmedStakes.restore(saved, this.window) : null;
    this.rangeBlocks = limits.logRangeBlocksMax;
  }

  /** Null until the first poll found the pool. */
  get stakes(): ConfirmedStakes | null {
    return this.confirmed;
  }

  async poll(): Promise<FollowerPoll> {
    this.counters.polls++;
    const headNumber = await this.rpc.headNumber();
    const confirmedTarget = headNumber - this.limits.confirmations;
    if (confirmedTarget < 0) throw new ChainValueError(`the chain has ${headNumber + 1} blocks, fewer than the ${this.limits.confirmations} confirmations`);
    const rewind = this.confirmed ? await this.checkAncestry() : null;
    const stakes = this.confirmed ?? (await this.begin(confirmedTarget));

    let ranges = 0;
    let deltasApplied = 0;
    while (stakes.nextBlock <= confirmedTarget && ranges < this.limits.rangesPerPollMax) {
      deltasApplied += await this.readRange(stakes, stakes.nextBlock, Math.min(confirmedTarget, stakes.nextBlock + this.rangeBlocks - 1));
      ranges++;
    }
    this.counters.deltasApplied += deltasApplied;
    const processed = stakes.processed;
    const caughtUp = stakes.nextBlock > confirmedTarget && processed !== null;
    if (!caughtUp || !processed) return { headNumber, confirmedTarget, caughtUp: false, cut: null, pending: [], deltasApplied, rewind };

    const totalStakedBase = await this.rpc.totalStaked(processed.number);
    const pendingTo = Math.min(headNumber, processed.number + this.limits.pendingBlocksMax);
    const pending = pendingTo > processed.number ? await this.rpc.stakingDeltas(processed.number + 1, pendingTo) : [];
    // Both reads were at the processed block's number: it must still be the same block.
    await this.expectHash(processed, 'while reading totalStaked()');
    return { headNumber, confirmedTarget, caughtUp: true, cut: { blockNumber: processed.number, blockHash: processed.hash, totalStakedBase }, pending, deltasApplied, rewind };
  }

  /** Reads [from, to]: the end block, its logs, the end block again (unchanged), then applies. */
  private async readRange(stakes: ConfirmedStakes, from: number, to: number): Promise<number> {
    const end = await this.rpc.requireBlock(to);
    const first = from === to ? end : await this.rpc.requireBlock(from);
    const processed = stakes.processed;
    if (processed && first.parentHash !== processed.hash) {
      throw this.moved(`block ${from}'s parent is ${first.parentHash}, not the processed ${processed.number} ${processed.hash}`);
    }
    const deltas = await this.readDeltas(from, to);
    await this.expectHash({ number: to, hash: end.hash }, `while reading logs ${from}..${to}`);
    for (const delta of deltas) {
      if (delta.blockNumber === to && delta.blockHash !== end.hash) throw this.moved(`a log of block ${to} is from ${delta.blockHash}, not ${end.hash}`);
      if (delta.blockNumber === from && delta.blockHash !== first.hash) throw this.moved(`a log of block ${from} is from ${delta.blockHash}, not ${first.hash}`);
    }
    stakes.applyRange(deltas, { number: to, hash: end.hash });
    this.counters.rangesRead++;
    return deltas.length;
  }

  private async readDeltas(from: number, to: number): Promise<StakingDelta[]> {
    try {
      return await this.rpc.stakingDeltas(from, to);
    } catch (error) {
      // A node that caps eth_getLogs: smaller ranges from now on; this poll fails, the next succeeds.
      if (to > from && rangeRefused.test((error as Error).message)) {
        this.rangeBlocks = Math.max(1, Math.floor((to - from + 1) / 2));
        this.log.warn({ event: 'chain.log_range_reduced', from, to, rangeBlocks: this.rangeBlocks, err: (error as Error).message }, 'node refused the log range; reading smaller ranges');
      }
      throw error;
    }
  }

  /** First poll (or after a full resync): where the pool starts, and the empty state before it. */
  private async begin(confirmedTarget: number): Promise<ConfirmedStakes> {
    if (!(await this.rpc.hasCode(confirmedTarget))) {
      throw new ChainValueError(`no contract at ${this.rpc.poolAddress} as of the confirmed block ${confirmedTarget}`);
    }
    const startBlock = this.limits.startBlock ?? (await this.deploymentBlock(confirmedTarget));
    const before = startBlock > 0 ? await this.rpc.requireBlock(startBlock - 1) : null;
    this.confirmed = ConfirmedStakes.startingAt(startBlock, before ? { number: before.number, hash: before.hash } : null, this.window);
    this.log.info({ event: 'chain.follow_start', pool: this.rpc.poolAddress, chainId: this.rpc.chainId.toString(), startBlock }, 'following the staking pool');
    return this.confirmed;
  }

  /** The first block with the pool's code, by bisection (≈ log2(head) eth_getCode calls). */
  private async deploymentBlock(withCodeAt: number): Promise<number> {
    let lo = 0;
    let hi = withCodeAt; // has code
    try {
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        if (await this.rpc.hasCode(mid)) hi = mid;
        else lo = mid + 1;
      }
      return hi;
    } catch (error) {
      // A pruned node cannot answer for old blocks: read from genesis instead (slower, same result).
      this.log.warn({ event: 'chain.deployment_unknown', err: (error as Error).message }, 'cannot bisect the deployment block; reading logs from block 0');
      return 0;
    }
  }

  /** Null if the processed block is still on the chain; else rewinds (or resets) and reports it. */
  private async checkAncestry(): Promise<RewindReport | null> {
    const stakes = this.confirmed;
    const processed = stakes?.processed;
    if (!stakes || !processed) return null;
    if (await this.onChain(processed)) return null;

    const stored = stakes.storedHashes();
    const lowest = stored[0];
    if (!lowest || !(await this.onChain(lowest))) {
      // Deeper than the window: nothing stored is left to stand on. Start over from scratch.
      this.confirmed = null;
      this.counters.rewinds++;
      this.counters.fullResyncs++;
      this.counters.deltasDropped += stakes.windowDeltaCount;
      this.log.error({ event: 'chain.reorg_full_resync', processed, lowestStored: lowest?.number }, 'reorg deeper than the kept window: re-reading the pool from its start');
      return { fromBlock: processed.number, ancestorBlock: stakes.startBlock - 1, deltasDropped: stakes.windowDeltaCount, full: true };
    }
    // Stored hashes match up to the fork and not above it: bisect for the highest match.
    let lo = 0;
    let hi = stored.length - 1; // the processed block: not on the chain
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const candidate = stored[mid];
      if (candidate && (await this.onChain(candidate))) lo = mid;
      else hi = mid;
    }
    const ancestor = stored[lo] ?? lowest;
    const deltasDropped = stakes.rewindTo(ancestor);
    this.counters.rewinds++;
    this.counters.deltasDropped += deltasDropped;
    this.log.warn({ event: 'chain.reorg_rewind', from: processed.number, ancestor: ancestor.number, deltasDropped }, 'reorg below the confirmations: rewound to the common ancestor');
    return { fromBlock: processed.number, ancestorBlock: ancestor.number, deltasDropped, full: false };
  }

  private async onChain(block: ProcessedBlock): Promise<boolean> {
    return (await this.rpc.block(block.number))?.hash === block.hash;
  }

  private async expectHash(block: ProcessedBlock, what: string): Promise<void> {
    const now = await this.rpc.block(block.number);
    if (now?.hash !== block.hash) throw this.moved(`block ${block.number} changed ${what}: ${block.hash} → ${now?.hash ?? 'missing'}`);
  }

  private moved(message: string): ChainMovedError {
    this.counters.chainMoved++;
    return new ChainMovedError(message);
  }

  private get window() {
    return { blocks: this.limits.windowBlocks, deltasMax: this.limits.deltasWindowMax };
  }
}

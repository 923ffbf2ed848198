import type { StakingDelta } from './staking-pool-rpc.js';

export interface ProcessedBlock {
  number: number;
  hash: string;
}

/** What changed since the last checkpoint, so a checkpoint writes only that. */
export interface StakesChanges {
  /** Everything was reset (a reorg deeper than the window): the saved state goes too. */
  reset: boolean;
  /** Saved rows above this block are orphaned (a rewind); null: none. */
  rewoundAbove: number | null;
  hashesAdded: ProcessedBlock[];
  deltasAdded: StakingDelta[];
  /** Stakers whose net changed, with the new net (0 = row goes). */
  stakersChanged: Map<string, bigint>;
  /** Saved hashes below this block and deltas at or below it are no longer kept. */
  floor: number;
}

export interface SavedStakes {
  startBlock: number;
  processed: ProcessedBlock | null;
  hashes: ProcessedBlock[];
  deltas: StakingDelta[];
  stakers: Map<string, bigint>;
}

/**
 * The chain side's confirmed state: the net stake per staker from every Staked/Unstaked log
 * up to the last processed block, plus a bounded window (by block count and delta count) of
 * the processed block hashes and of the deltas, which is what a rewind needs.
 *
 * Hashes are sparse: the end of every range read and every block that had a log. That is
 * enough: a block hash commits to all its ancestors, so if the stored hash at n is still on
 * the chain, nothing at or below n changed; the common ancestor after a reorg is the highest
 * stored block whose hash still matches. Invariant: for every kept hash at n, every delta
 * above n is kept, so a rewind to any kept hash is exact.
 */
export class ConfirmedStakes {
  private hashes = new Map<number, string>();
  private deltas: StakingDelta[] = [];
  private stakers = new Map<string, bigint>();
  private processedBlock: ProcessedBlock | null = null;
  private netTotal = 0n;
  private changes: StakesChanges = emptyChanges(0);

  constructor(
    readonly startBlock: number,
    private readonly window: { blocks: number; deltasMax: number },
  ) {}

  static restore(saved: SavedStakes, window: { blocks: number; deltasMax: number }): ConfirmedStakes {
    const stakes = new ConfirmedStakes(saved.startBlock, window);
    for (const h of saved.hashes) stakes.hashes.set(h.number, h.hash);
    stakes.deltas = [...saved.deltas].sort(byChainOrder);
    stakes.stakers = new Map(saved.stakers);
    for (const net of stakes.stakers.values()) stakes.netTotal += net;
    stakes.processedBlock = saved.processed;
    if (saved.processed) stakes.hashes.set(saved.processed.number, saved.processed.hash);
    stakes.changes = emptyChanges(stakes.floor());
    return stakes;
  }

  /** Starts at the block before the pool existed (its state is empty there). */
  static startingAt(startBlock: number, before: ProcessedBlock | null, window: { blocks: number; deltasMax: number }): ConfirmedStakes {
    const stakes = new ConfirmedStakes(startBlock, window);
    stakes.processedBlock = before;
    if (before) {
      stakes.hashes.set(before.number, before.hash);
      stakes.changes.hashesAdded.push(before);
    }
    stakes.changes.reset = true;
    return stakes;
  }

  get processed(): ProcessedBlock | null {
    return this.processedBlock;
  }

  /** The next block to read. */
  get nextBlock(): number {
    return this.processedBlock ? this.processedBlock.number + 1 : this.startBlock;
  }

  /** Σ of every staker's net: equals totalStaked() for a pool whose logs are complete. */
  get eventsNetTotal(): bigint {
    return this.netTotal;
  }

  get stakerCount(): number {
    return this.stakers.size;
  }

  get windowDeltaCount(): number {
    return this.deltas.length;
  }

  netOf(staker: string): bigint {
    return this.stakers.get(staker) ?? 0n;
  }

  stakerNets(): ReadonlyMap<string, bigint> {
    return this.stakers;
  }

  /** Stored hashes, ascending by block number (the candidates for a common ancestor). */
  storedHashes(): ProcessedBlock[] {
    return [...this.hashes].map(([number, hash]) => ({ number, hash })).sort((a, b) => a.number - b.number);
  }

  /**
   * Applies the logs of [nextBlock, end.number] (already in chain order) and moves the
   * processed block to `end`. The caller has checked that `end` descends from the processed block.
   */
  applyRange(deltas: readonly StakingDelta[], end: ProcessedBlock): void {
    if (end.number < this.nextBlock) throw new Error(`range end ${end.number} is before the next block ${this.nextBlock}`);
    for (const delta of deltas) {
      if (delta.blockNumber < this.nextBlock || delta.blockNumber > end.number) throw new Error(`delta at block ${delta.blockNumber} outside ${this.nextBlock}..${end.number}`);
      this.deltas.push(delta);
      this.changes.deltasAdded.push(delta);
      this.addNet(delta.staker, delta.amountBase);
      this.setHash({ number: delta.blockNumber, hash: delta.blockHash });
    }
    this.setHash(end);
    this.processedBlock = end;
    this.prune();
  }

  /**
   * Drops every delta and hash above `ancestor` (the highest stored block still on the chain)
   * and makes it the processed block. Returns the number of deltas dropped.
   */
  rewindTo(ancestor: ProcessedBlock): number {
    if (this.hashes.get(ancestor.number) !== ancestor.hash) throw new Error(`block ${ancestor.number} ${ancestor.hash} is not a stored hash`);
    let dropped = 0;
    while (this.deltas.length > 0 && (this.deltas.at(-1)?.blockNumber ?? 0) > ancestor.number) {
      const delta = this.deltas.pop();
      if (!delta) break;
      this.addNet(delta.staker, -delta.amountBase);
      dropped++;
    }
    for (const number of [...this.hashes.keys()]) if (number > ancestor.number) this.hashes.delete(number);
    this.processedBlock = ancestor;
    const c = this.changes;
    c.rewoundAbove = c.rewoundAbove === null ? ancestor.number : Math.min(c.rewoundAbove, ancestor.number);
    c.deltasAdded = c.deltasAdded.filter((d) => d.blockNumber <= ancestor.number);
    c.hashesAdded = c.hashesAdded.filter((h) => h.number <= ancestor.number);
    return dropped;
  }

  /** Hands over what changed since the last call (for the checkpoint) and starts a new set. */
  takeChanges(): StakesChanges {
    const taken = this.changes;
    taken.floor = this.floor();
    this.changes = emptyChanges(taken.floor);
    return taken;
  }

  /**
   * After a failed checkpoint the saved rows are in an unknown state: the next checkpoint
   * replaces them with the whole current state (a rare path, so simple beats incremental).
   */
  resaveAll(): void {
    this.changes = {
      reset: true,
      rewoundAbove: null,
      hashesAdded: this.storedHashes(),
      deltasAdded: [...this.deltas],
      stakersChanged: new Map(this.stakers),
      floor: this.floor(),
    };
  }

  get hasChanges(): boolean {
    const c = this.changes;
    return c.reset || c.rewoundAbove !== null || c.hashesAdded.length > 0 || c.deltasAdded.length > 0 || c.stakersChanged.size > 0;
  }

  private addNet(staker: string, amount: bigint): void {
    const net = (this.stakers.get(staker) ?? 0n) + amount;
    if (net === 0n) this.stakers.delete(staker);
    else this.stakers.set(staker, net);
    this.netTotal += amount;
    this.changes.stakersChanged.set(staker, net);
  }

  private setHash(block: ProcessedBlock): void {
    const known = this.hashes.get(block.number);
    if (known !== undefined && known !== block.hash) throw new Error(`block ${block.number}: hash ${block.hash} read after ${known} in one range (reorg while reading)`);
    if (known === undefined) {
      this.hashes.set(block.number, block.hash);
      this.changes.hashesAdded.push(block);
    }
  }

  /** The lowest block whose hash is still kept. */
  private floor(): number {
    let floor = Infinity;
    for (const number of this.hashes.keys()) floor = Math.min(floor, number);
    return Number.isFinite(floor) ? floor : 0;
  }

  /** Keeps the window: at most `blocks` below the processed block, at most `deltasMax` deltas. */
  private prune(): void {
    const processed = this.processedBlock;
    if (!processed) return;
    let floor = processed.number - this.window.blocks;
    const excess = this.deltas.length - this.window.deltasMax;
    if (excess > 0) floor = Math.max(floor, this.deltas[excess - 1]?.blockNumber ?? floor);
    floor = Math.min(floor, processed.number); // the processed block always stays
    for (const number of [...this.hashes.keys()]) if (number < floor) this.hashes.delete(number);
    // Deltas at or below the lowest kept hash are never rewound: folded into the nets for good.
    const lowest = this.floor();
    let keepFrom = 0;
    while (keepFrom < this.deltas.length && (this.deltas[keepFrom]?.blockNumber ?? Infinity) <= lowest) keepFrom++;
    if (keepFrom > 0) this.deltas = this.deltas.slice(keepFrom);
  }
}

function emptyChanges(floor: number): StakesChanges {
  return { reset: false, rewoundAbove: null, hashesAdded: [], deltasAdded: [], stakersChanged: new Map(), floor };
}

const byChainOrder = (a: StakingDelta, b: StakingDelta): number => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex;

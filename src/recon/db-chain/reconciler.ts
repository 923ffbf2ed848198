import { ChainMovedError, StakingFollower, type ChainCut, type FollowerPoll } from '../../adapters/chain/staking-follower.js';
import { StakingPoolRpc } from '../../adapters/chain/staking-pool-rpc.js';
import type { Reconciler } from '../reconciler.js';
import { BreakRegistry } from '../breaks/break-registry.js';
import { breakKinds } from '../breaks/break-kinds.js';
import type { BreakActionOutcome, LiveBreak } from '../breaks/break.js';
import { ageBucketsOf, type BoundaryStatus } from '../boundary-status.js';
import { durableWrites, type DurableWrites } from '../durable-writes.js';
import { reportReconcilerError, type ErrorReportingContext } from '../error-reporting.js';
import { writeSealOnce } from '../seal-store.js';
import { SerialQueue } from '../serial-queue.js';
import { dbChainBoundary, loadFollowState, poolKeyOf, saveFollowState } from './checkpoint.js';
import { compareSides, type Comparison } from './comparison.js';
import { GraceClock } from '../grace-clock.js';
import { LeafSetDigest } from '../leaf-set-digest.js';
import { readStakingPositions } from './positions.js';
import { dbChainDisabledReason, dbChainLimitsFrom, type DbChainLimits } from './limits.js';
import { cutRecordOf, tokens, updateDigest, type DbChainSeal, type LastCut } from './seal-record.js';
import type { ReconcilerDeps } from '../reconciler-deps.js';

export interface DbChainDeps extends ReconcilerDeps {
  /** Overrides of the limits derived from settings (tests, tuning). */
  limits?: Partial<DbChainLimits>;
  nowMs?: () => number;
}

export interface DbChainReconciler extends Reconciler {
  /** Seals the latest consistent cut for a business date, once (a repeat returns the first seal). */
  seal(businessDate: string): Promise<DbChainSeal>;
  /** Runs one poll and comparison now (the timer keeps running). */
  pollNow(): Promise<void>;
  /** The chain side's net stake of an address at the confirmed block (base units), null before the first read. */
  stakerNet(address: string): bigint | null;
  stop(): Promise<void>;
}

const totalKind = breakKinds.total;
const positionKind = breakKinds.position;
const unreachableKind = breakKinds.unreachable;
const errorKind = breakKinds.reconcilerError;
const businessDatePattern = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Starts the db_chain reconciler: Σ staking_positions against StakingPool.totalStaked() at
 * the confirmed block (ETH_RPC_URL, STAKING_POOL_ADDRESS, CHAIN_POLL_MS, CHAIN_CONFIRMATIONS).
 * Throws if those are not configured (see dbChainDisabledReason). It does not wait for the
 * chain: an unreachable node is reported (status, then an 'unreachable' break), not fatal.
 */
export async function startDbChainReconciler(deps: DbChainDeps): Promise<DbChainReconciler> {
  const reason = dbChainDisabledReason(deps.settings);
  if (reason) throw new Error(`db_chain: ${reason}`);
  const reconciler = new DbChainActor(deps, dbChainLimitsFrom(deps.settings, deps.limits));
  await reconciler.start();
  return reconciler;
}

/**
 * One actor: every poll, comparison, admin action and seal runs through one serial queue.
 * A poll reads the chain (StakingFollower: logs to the confirmed head, reorg rewinds,
 * totalStaked() there), checkpoints the follower, reads staking_positions in one statement,
 * and compares; breaks go through the BreakRegistry (one alert per fingerprint).
 */
class DbChainActor implements DbChainReconciler {
  readonly boundary = dbChainBoundary;
  private readonly queue: SerialQueue;
  private readonly breaks: BreakRegistry;
  private readonly writes: DurableWrites;
  private readonly errors: ErrorReportingContext;
  private readonly clock = new GraceClock();
  private readonly digest = new LeafSetDigest();
  private readonly nowMs: () => number;
  private rpc: StakingPoolRpc | null = null;
  private follower: StakingFollower | null = null;
  private poolKey: string | null = null;
  private lastPoll: FollowerPoll | null = null;
  private last: LastCut | null = null;
  private unreachableSinceMs: number | null = null;
  private lastChainError: string | null = null;
  private lastDeltaAtMs: number | null = null;
  private lastTouchMs = 0;
  private lastDbTotal: bigint | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly counters = { comparisons: 0, chainErrors: 0, chainMoved: 0, checkpoints: 0 };

  constructor(
    private readonly deps: DbChainDeps,
    private readonly limits: DbChainLimits,
  ) {
    this.nowMs = deps.nowMs ?? Date.now;
    this.queue = new SerialQueue(limits.queueDepthMax);
    this.writes = durableWrites(deps.pool, deps.fence);
    this.breaks = new BreakRegistry({
      boundary: dbChainBoundary, pool: deps.pool, js: deps.js, names: deps.names, log: deps.log, writes: this.writes,
      onWriteFailed: (error) => this.reportError('outbox', error),
    });
    this.errors = {
      boundary: dbChainBoundary, log: deps.log, breaks: this.breaks, key: 'db_chain', nowMs: this.nowMs,
      ...(deps.onFenced ? { onFenced: deps.onFenced } : {}),
    };
  }

  async start(): Promise<void> {
    await this.breaks.load();
    this.breaks.startEffects();
    this.timer = setInterval(() => this.scheduleTick(), this.limits.pollMs);
    this.scheduleTick();
    this.deps.log.info({ event: 'recon.started', boundary: dbChainBoundary, pool: this.deps.settings.STAKING_POOL_ADDRESS, confirmations: this.limits.confirmations, pollMs: this.limits.pollMs }, 'db_chain reconciler started');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.queue.run(() => this.checkpoint()).catch((e: unknown) => this.deps.log.error({ event: 'recon.error', boundary: dbChainBoundary, where: 'stop', err: messageOf(e) }, 'db_chain final checkpoint failed'));
    this.rpc?.destroy();
    this.rpc = null;
    await this.breaks.stopEffects();
  }

  status(): BoundaryStatus {
    const live = this.breaks.list();
    const last = this.last;
    const watermarks: Record<string, string | number> = {};
    if (this.lastPoll) Object.assign(watermarks, { headBlock: this.lastPoll.headNumber, confirmedTarget: this.lastPoll.confirmedTarget });
    const processed = this.follower?.stakes?.processed;
    if (processed) Object.assign(watermarks, { processedBlock: processed.number, processedHash: processed.hash });
    if (last) {
      Object.assign(watermarks, {
        comparedBlock: last.cut.blockNumber,
        comparedHash: last.cut.blockHash,
        totalStakedBase: last.cut.totalStakedBase.toString(),
        positionsTotalBase: last.db.totalBase.toString(),
        eventsNetTotalBase: last.eventsNetTotalBase.toString(),
        comparedAt: new Date(last.readAtMs).toISOString(),
      });
    }
    const status: BoundaryStatus = {
      name: dbChainBoundary,
      enabled: true,
      lastDeltaAt: this.lastDeltaAtMs === null ? null : new Date(this.lastDeltaAtMs).toISOString(),
      openBreaks: this.breaks.openCount,
      ageBuckets: ageBucketsOf(live.filter((b) => b.status !== 'accepted'), this.nowMs()),
      watermarks,
      counters: { ...this.counters, ...(this.follower?.counters ?? {}), effectsPending: this.breaks.effectsPending },
    };
    const reason = this.unreachableSinceMs !== null
      ? `chain unreachable since ${new Date(this.unreachableSinceMs).toISOString()}: ${this.lastChainError ?? 'unknown error'}`
      : this.lastPoll && !this.lastPoll.caughtUp ? `catching up: processed ${processed?.number ?? 'none'} of ${this.lastPoll.confirmedTarget}` : null;
    if (reason) status.reason = reason;
    return status;
  }

  liveBreaks(): LiveBreak[] {
    return this.breaks.list();
  }

  act(breakId: string, action: 'acknowledge' | 'accept', actorId: string, reason: string | null): Promise<BreakActionOutcome> {
    return this.queue.run(() => this.breaks.act(breakId, action, actorId, reason));
  }

  pollNow(): Promise<void> {
    return this.queue.run(() => this.tick());
  }

  stakerNet(address: string): bigint | null {
    const stakes = this.follower?.stakes;
    return stakes ? stakes.netOf(address.toLowerCase()) : null;
  }

  /**
   * A fresh poll, then the cut it compared is written once for the date. If the chain cannot
   * be read now, the last good cut is sealed and marked stale (with the reason): the close
   * goes on, and the seal says what it stands on.
   */
  seal(businessDate: string): Promise<DbChainSeal> {
    if (!businessDatePattern.test(businessDate)) return Promise.reject(new Error(`businessDate must be YYYY-MM-DD, got "${businessDate}"`));
    return this.queue.run(async () => {
      const startedMs = this.nowMs();
      await this.tick();
      const last = this.last;
      if (!last || !this.rpc) throw new Error('db_chain seal: the chain has not been read yet');
      const stale = last.readAtMs < startedMs;
      const cut: DbChainSeal['cut'] = {
        ...cutRecordOf(last, this.rpc, this.limits.confirmations),
        stale,
        ...(stale ? { staleReason: this.lastChainError ?? 'the follower is catching up' } : {}),
      };
      const openBreaks = this.breaks.list();
      return writeSealOnce(this.writes, { boundary: dbChainBoundary, businessDate, cut, digest: this.digest.hex(), openBreaks });
    });
  }

  /** At most one tick waits in the queue: a slow poll delays the next, never piles them up. */
  private scheduleTick(): void {
    if (this.stopped) return;
    this.queue.runCoalesced('tick', () => this.tick())?.catch((e: unknown) => this.reportError('tick', e));
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const nowMs = this.nowMs();
    const poll = await this.pollChain(nowMs);
    await this.checkpoint();
    if (!poll) return;
    if (!poll.caughtUp || !poll.cut) {
      // Comparing an old block with today's positions would page lag as a break.
      this.clock.clear();
      return;
    }
    const stakes = this.follower?.stakes;
    if (!stakes) return;
    // The chain side is bounded like the database side: a comparison holds every address of both.
    const stakers = stakes.stakerNets().size;
    if (stakers > this.limits.addressesMax) throw new Error(`the pool has ${stakers} stakers on chain, more than ${this.limits.addressesMax} (limit addressesMax, src/recon/limits.ts)`);
    const db = await readStakingPositions(this.deps.pool, this.limits.addressesMax);
    if (this.lastDbTotal !== null && db.totalBase !== this.lastDbTotal) this.lastDeltaAtMs = nowMs;
    this.lastDbTotal = db.totalBase;
    const liveAddresses = this.breaks.list().filter((b) => b.kind === positionKind).map((b) => b.key);
    const comparison = compareSides(db, {
      totalStakedBase: poll.cut.totalStakedBase,
      eventsNetTotalBase: stakes.eventsNetTotal,
      netOf: (address) => stakes.netOf(address),
      addresses: () => stakes.stakerNets().keys(),
      pending: poll.pending,
    }, liveAddresses);
    this.last = { cut: poll.cut, headBlock: poll.headNumber, db, comparison, eventsNetTotalBase: stakes.eventsNetTotal, readAtMs: nowMs };
    this.counters.comparisons++;
    updateDigest(this.digest, comparison);
    await this.judge(comparison, poll.cut, nowMs);
    await this.breaks.resolve(errorKind, 'db_chain');
    if (nowMs - this.lastTouchMs >= this.limits.touchBreaksMs) {
      await this.breaks.touchAll();
      this.lastTouchMs = nowMs;
    }
  }

  /** The follower's poll, or null when the chain could not be read (reported, never a balance verdict). */
  private async pollChain(nowMs: number): Promise<FollowerPoll | null> {
    let poll: FollowerPoll;
    try {
      const follower = this.follower ?? (await this.connect());
      poll = await follower.poll();
    } catch (error) {
      if (error instanceof ChainMovedError) {
        // A reorg under our feet: nothing half-applied; the next poll sees the settled chain.
        this.counters.chainMoved++;
        this.deps.log.info({ event: 'chain.moved', err: error.message }, 'chain moved during a poll; polling again');
        return null;
      }
      await this.chainFailed(error, nowMs);
      return null;
    }
    this.lastPoll = poll;
    if (poll.deltasApplied > 0 || poll.rewind) this.lastDeltaAtMs = nowMs;
    if (this.unreachableSinceMs !== null) {
      this.deps.log.info({ event: 'chain.reachable', boundary: dbChainBoundary }, 'chain answers again');
      this.unreachableSinceMs = null;
      this.lastChainError = null;
    }
    await this.breaks.resolve(unreachableKind, 'rpc');
    return poll;
  }

  /** The RPC client and the follower restored from its checkpoint (the chain id picks which). */
  private async connect(): Promise<StakingFollower> {
    const { settings } = this.deps;
    const rpc = this.rpc ?? (await StakingPoolRpc.connect({ url: settings.ETH_RPC_URL ?? '', poolAddress: settings.STAKING_POOL_ADDRESS ?? '', timeoutMs: this.limits.rpcTimeoutMs }));
    this.rpc = rpc;
    const poolKey = poolKeyOf(rpc.chainId, rpc.poolAddress);
    const saved = await loadFollowState(this.deps.pool, poolKey).catch((error: unknown) => {
      throw new DatabaseError(`loading the db_chain checkpoint: ${messageOf(error)}`);
    });
    this.follower = new StakingFollower(rpc, this.limits, this.deps.log, saved);
    this.poolKey = poolKey;
    this.deps.log.info({ event: 'chain.connected', chainId: rpc.chainId.toString(), pool: rpc.poolAddress, resumedAt: saved?.processed?.number ?? null }, 'chain connected');
    return this.follower;
  }

  private async chainFailed(error: unknown, nowMs: number): Promise<void> {
    if (error instanceof DatabaseError) throw error;
    const message = messageOf(error);
    this.counters.chainErrors++;
    this.lastChainError = message;
    // No balance verdict without a fresh chain read: differences start their grace again after.
    this.clock.clear();
    if (this.unreachableSinceMs === null) {
      this.unreachableSinceMs = nowMs;
      this.deps.log.warn({ event: 'chain.unreachable', boundary: dbChainBoundary, err: message }, 'chain read failed');
    }
    if (nowMs - this.unreachableSinceMs >= this.limits.graceMs) {
      await this.breaks.raise({ kind: unreachableKind, key: 'rpc', detail: `cannot read the staking pool at ${this.deps.settings.STAKING_POOL_ADDRESS}: ${message}` }, this.unreachableSinceMs);
    }
  }

  private async checkpoint(): Promise<void> {
    const stakes = this.follower?.stakes;
    if (!stakes || !this.poolKey || !stakes.hasChanges) return;
    const changes = stakes.takeChanges();
    try {
      await saveFollowState(this.writes, this.poolKey, stakes, changes);
      this.counters.checkpoints++;
    } catch (error) {
      stakes.resaveAll();
      throw error;
    }
  }

  private async judge(comparison: Comparison, cut: ChainCut, nowMs: number): Promise<void> {
    const { graceMs, currency } = this.limits;
    const total = comparison.total;
    const totalSince = this.clock.observe(totalKind, total.verdict === 'different', nowMs);
    if (total.verdict === 'equal') {
      await this.breaks.resolve(totalKind, totalKind, { leftMinor: total.leftBase, rightMinor: total.rightBase });
    } else if (totalSince !== null && !comparison.attributable && nowMs - totalSince >= graceMs) {
      await this.breaks.raise({
        kind: totalKind, key: totalKind, currency, leftMinor: total.leftBase, rightMinor: total.rightBase,
        detail: `Σ staking_positions ${tokens(total.leftBase)} ≠ totalStaked() ${tokens(total.rightBase)} at block ${cut.blockNumber} ${cut.blockHash}; the pool's logs net ${tokens(this.last?.eventsNetTotalBase ?? 0n)}, so no address can be blamed`,
      }, totalSince);
    }
    if (!comparison.attributable) {
      this.clock.forget(`${positionKind}/`);
      return;
    }
    for (const p of comparison.positions) {
      const since = this.clock.observe(`${positionKind}/${p.address}`, p.verdict === 'different', nowMs);
      if (p.verdict === 'equal') {
        await this.breaks.resolve(positionKind, p.address, { leftMinor: p.leftBase, rightMinor: p.rightBase });
      } else if (since !== null && nowMs - since >= graceMs) {
        await this.breaks.raise({
          kind: positionKind, key: p.address, ...(p.userId ? { userId: p.userId } : {}), currency, leftMinor: p.leftBase, rightMinor: p.rightBase,
          detail: `staking_positions for ${p.address} hold ${tokens(p.leftBase)}; its Staked − Unstaked logs net ${tokens(p.rightBase)} at block ${cut.blockNumber} ${cut.blockHash}`,
        }, since);
      }
    }
  }

  /** An error inside the reconciler (not the chain's) is itself paged, never silent. */
  private reportError(where: string, error: unknown): void {
    if (this.stopped) {
      this.deps.log.error({ event: 'recon.error', boundary: dbChainBoundary, where, err: messageOf(error) }, 'reconciler error while stopping');
      return;
    }
    reportReconcilerError(this.errors, where, error);
  }
}

/** A database failure while connecting: reported as a reconciler error, not as the chain's. */
class DatabaseError extends Error {}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

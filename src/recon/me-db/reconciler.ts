import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { listenForLedgerInserts, ledgerStart, type LedgerRow, type LedgerWatermark } from '../../adapters/ledger/ledger-follower.js';
import { parseBalanceEvent, userIdOfBalanceSubject, type BalanceEvent } from '../../adapters/matching-engine/contract.js';
import { fetchSnapshot } from '../../adapters/matching-engine/snapshot-client.js';
import type { AccountCommandClient } from '../../actors/command-client.js';
import { parkCommand } from '../../actors/parking.js';
import { consumePullExpiresMs, recreateDurableConsumerAt, rewindDurableConsumer, type DurableConsumerSpec } from '../../nats/durable-consumer.js';
import { consumeAcrossGaps, deliveryGap, GapRewindBackoff, sleepUnlessStopped, type ConsumeSession, type DeliveryGap } from '../../nats/delivery-gap.js';
import { ensureBalanceStream, ensureReconStream } from '../../nats/topology.js';
import { BreakRegistry } from '../breaks/break-registry.js';
import { breakKinds } from '../breaks/break-kinds.js';
import type { BreakActionOutcome, LiveBreak } from '../breaks/break.js';
import { ageBucketsOf, type BoundaryStatus } from '../boundary-status.js';
import { CutDigest } from '../cut-digest.js';
import { durableWrites, type DurableWrites } from '../durable-writes.js';
import { reportReconcilerError, type ErrorReportingContext } from '../error-reporting.js';
import { reconLimits } from '../limits.js';
import { writeSealOnce } from '../seal-store.js';
import { SerialQueue } from '../serial-queue.js';
import { loadCheckpoint, meDbBoundary, saveCheckpoint, type CheckpointWrite, type SavedPosition } from './checkpoint.js';
import type { MeDbCounters } from './counters.js';
import { journalSumsOf, seededCurrencyTotals, seededPositions, takeColdSeed } from './cold-seed.js';
import { readLedgerSumsAfter, readUnbalancedJournals, type LedgerSeed } from '../../adapters/ledger/ledger-seed.js';
import { DigestChanges } from './digest-changes.js';
import { EngineInbox } from './engine-inbox.js';
import { LedgerPrefetch, sameWatermark, type LedgerRead } from './ledger-prefetch.js';
import { streamSeqAfter } from './engine-start.js';
import { rebaselineTotals } from './engine-snapshot.js';
import { judgeSequence, sequenceFaultDetail, sequenceKey } from './engine-sequence.js';
import { freezeEffects } from './freeze-effects.js';
import {
  balanceKind, breakKeyOf, compareWatched, PositionCapAlarm, dateOfChange, errorKind, judgeCurrencyTotals, judgeJournals, stillBreaking, type CheckCounts,
} from './judgement.js';
import { addToJournal, committedPastWatermark, ledgerRowsPastAtLeast, readLedgerTransactions } from './ledger-side.js';
import type { MeDbLimits } from './limits.js';
import { holdSeededPositions, replaceSavedPositions, restorePositions, savedPositions } from './position-store.js';
import { keyOf, PositionBook, type Position, type SideClocks } from './positions.js';
import { leafValue, type MeDbSeal } from './seal-record.js';
import type { ReconcilerDeps } from '../reconciler-deps.js';
import type { Reconciler } from '../reconciler.js';

export type { MeDbCounters } from './counters.js';
export { defaultMeDbLimits, type MeDbLimits } from './limits.js';
export type { MeDbSeal } from './seal-record.js';

/** Settings reach it as `limits` (grace window and the rest), not whole. */
export interface MeDbDeps extends Omit<ReconcilerDeps, 'settings'> {
  limits: MeDbLimits;
  /** Freezes accounts on a new balance break; absent: no freeze (e.g. a read-only deployment). */
  commands?: AccountCommandClient;
  nowMs?: () => number;
}

/**
 * The me_db reconciler actor: matching-engine balances (a JetStream stream) against the
 * ledger (Postgres). It keeps running totals per (user, currency) from both sides, compares
 * the keys that changed, raises a break when a difference outlives the grace window (and
 * freezes the account), resolves it when the sides agree, and checkpoints totals and
 * watermarks so a restart resumes without rescanning. Every change to its state goes
 * through one serial queue: it handles one message at a time.
 */
export class MeDbReconciler implements Reconciler {
  readonly boundary = meDbBoundary;
  private readonly queue = new SerialQueue(reconLimits.meDbQueueDepthMax);
  private readonly book: PositionBook;
  private readonly breaks: BreakRegistry;
  private readonly positionCap: PositionCapAlarm;
  private readonly writes: DurableWrites;
  private readonly errors: ErrorReportingContext;
  private readonly digest = new CutDigest();
  private readonly digestChanges = new DigestChanges();
  private readonly nowMs: () => number;
  private readonly watched = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly currencyTotals = new Map<string, bigint>();
  private readonly currenciesToCheck = new Set<string>();
  private readonly unacked: JsMsg[] = [];
  /** Events applied since the last checkpoint: saved with it as engine history (the close's cut, ADR 0015). */
  private readonly appliedEvents: BalanceEvent[] = [];
  private engineSeq = 0;
  /** Events at or below this seq were applied before (checkpoint or snapshot): skipped. */
  private appliedThroughSeq = 0;
  /** Messages at or below this stream seq are redeliveries of what the checkpoint covers (Infinity: unknown). */
  private seenThroughStreamSeq = Number.POSITIVE_INFINITY;
  /** The stream seq of the last engine message handled (applied, seen or parked). */
  private engineStreamSeq = 0;
  private ledger: LedgerWatermark = ledgerStart;
  private readonly readLedgerAfter = (from: LedgerWatermark) => readLedgerTransactions(this.deps.pool, from, this.deps.limits.ledgerBatchRowsMax);
  private readonly prefetch: LedgerPrefetch;
  /** The last ledger read was full: more rows are waiting. */
  private ledgerBehind = true;
  private rowsRead = 0n;
  private lastDeltaAtMs: number | null = null;
  private checkCounts: CheckCounts = { keysCompared: 0, keysEqual: 0, keysInFlight: 0 };
  private readonly counters: MeDbCounters = {
    engineEventsApplied: 0, engineEventsParked: 0, ledgerRowsRead: 0, ledgerRowsReadSinceStart: 0, ledgerRowsSeeded: 0, checks: 0, engineDeliveryGaps: 0,
  };
  /** The engine consume in progress (null between two, after a gap): a stop closes it. */
  private messages: ConsumerMessages | null = null;
  /** The durable consumer of the balance stream, as start() and every rewind after a gap create it. */
  private readonly consumerSpec: Omit<DurableConsumerSpec, 'firstStart'>;
  private readonly gapBackoff: GapRewindBackoff;
  private wakeStopped: () => void = () => undefined;
  private readonly stopSignal = new Promise<void>((resolve) => {
    this.wakeStopped = resolve;
  });
  private timers: NodeJS.Timeout[] = [];
  private listener: { close(): Promise<void> } | null = null;
  private ledgerWake: (() => void) | null = null;
  private stopped = false;
  private loops: Promise<void>[] = [];
  private lastCheckpointMs = 0;
  private lastCompareMs = 0;
  /** Engine events in the stream behind the last one applied (JetStream's count). */
  private engineBacklog = 0;
  /** Engine messages received, waiting for the next batch. */
  private readonly engineInbox = new EngineInbox<JsMsg>(this.queue, (msg) => this.onEngineMessage(msg), (error) => this.reportError('engine', error),
    (msgs) => this.prepareBatch(msgs.map((msg) => userIdOfBalanceSubject(msg.subject))));
  /** The ts of the last engine event applied. */
  private engineAppliedTsMs = 0;
  /** When the ledger was last read up to its horizon. */
  private ledgerCompleteMs = 0;
  /** The furthest the engine side was ever judged complete (see `clocks`): a later event cannot date from before it. */
  private engineClaimedCompleteMs = 0;

  constructor(private readonly deps: MeDbDeps) {
    this.nowMs = deps.nowMs ?? Date.now;
    this.consumerSpec = {
      stream: deps.names.meBalanceStream,
      name: deps.names.meDbConsumer,
      // The whole stream, unfiltered: a filter equal to its only subject costs the stream's lock at every info in NATS 2.9 (ADR 0036).
      filterSubject: null,
      ackWaitMs: deps.limits.engineAckWaitMs,
      inFlightMax: deps.limits.engineInFlightMax,
    };
    this.gapBackoff = new GapRewindBackoff({
      ackWaitMs: deps.limits.engineAckWaitMs, initialMs: reconLimits.meDbGapRewindBackoffInitialMs, maxMs: reconLimits.meDbGapRewindBackoffMaxMs,
    });
    this.prefetch = new LedgerPrefetch(this.readLedgerAfter, this.nowMs);
    this.book = new PositionBook({
      graceMs: deps.limits.graceMs,
      historyMs: Math.max(reconLimits.meDbHistoryMsMin, deps.limits.graceMs * 4),
      historyPointsMax: reconLimits.meDbHistoryPointsPerSideMax,
      inMemoryMax: deps.limits.positionsInMemoryMax,
    }, {
      source: savedPositions(deps.pool),
      pinOf: (key, p) => (this.dirty.has(key) ? 'dirty' : this.breaks.has(balanceKind, breakKeyOf(p)) ? 'break'
        : this.breaks.unheldCount > 0 && this.watched.has(key) ? 'watched' : null),
      isWatched: (key) => this.watched.has(key),
      onEvicted: (key) => this.watched.delete(key),
    });
    this.writes = durableWrites(deps.pool, deps.fence);
    this.breaks = new BreakRegistry({
      boundary: meDbBoundary,
      pool: deps.pool,
      js: deps.js,
      names: deps.names,
      log: deps.log,
      writes: this.writes,
      ...(deps.commands ? { commands: deps.commands } : {}),
      effectsOnRaised: (live) => freezeEffects(deps.commands, live),
      onWriteFailed: (error) => this.reportError('outbox', error),
      ...(deps.limits.liveBreaksHeldMax === undefined ? {} : { liveBreaksHeldMax: deps.limits.liveBreaksHeldMax }),
    });
    this.positionCap = new PositionCapAlarm(this.breaks, deps.limits.positionsInMemoryMax, deps.limits.graceMs, reconLimits.meDbPositionCapBehindGraceMs);
    this.errors = {
      boundary: meDbBoundary, log: deps.log, breaks: this.breaks, key: 'engine', nowMs: this.nowMs,
      ...(deps.onFenced ? { onFenced: deps.onFenced } : {}),
    };
  }

  async start(): Promise<void> {
    const { deps } = this;
    await ensureBalanceStream(deps.jsm, deps.names);
    await ensureReconStream(deps.jsm, deps.names);
    const restored = await this.restore();
    if (!restored && deps.limits.coldSeed) {
      await this.coldSeed(this.consumerSpec);
      // The seeded keys compared once before start() returns: those equal are confirmed now.
      await this.queue.run(() => this.judgeWatched(this.nowMs()));
    } else {
      const startSeq = await rewindDurableConsumer(deps.jsm, { ...this.consumerSpec, firstStart: 'all' });
      if (startSeq === null && this.engineSeq === 0) await this.seedFromSnapshot();
    }
    const session = await this.openConsumeSession();
    this.messages = session.messages;
    this.breaks.startEffects();
    this.listener = await listenForLedgerInserts(deps.pool, () => this.ledgerWake?.(), deps.log).catch(() => null);
    this.loops.push(this.followEngine(session), this.followLedger(restored));
    this.timers.push(setInterval(() => this.scheduleTick(), deps.limits.tickMs));
    deps.log.info({ event: 'recon.started', boundary: meDbBoundary, engineSeq: this.engineSeq, ledger: stringify(this.ledger), positions: this.book.size }, 'me_db reconciler started');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeStopped();
    for (const timer of this.timers) clearInterval(timer);
    this.ledgerWake?.();
    await this.messages?.close();
    await Promise.all(this.loops);
    await this.prefetch.close();
    await this.listener?.close();
    // A last checkpoint so the next start re-reads as little as possible.
    await this.queue.run(() => this.checkpoint()).catch((e: unknown) => this.reportError('checkpoint', e));
    await this.breaks.stopEffects();
    this.deps.log.info({ event: 'recon.stopped', boundary: meDbBoundary, engineSeq: this.engineSeq }, 'me_db reconciler stopped');
  }

  status(): BoundaryStatus {
    const live = this.breaks.list();
    return {
      name: meDbBoundary,
      enabled: true,
      lastDeltaAt: this.lastDeltaAtMs === null ? null : new Date(this.lastDeltaAtMs).toISOString(),
      openBreaks: this.breaks.openCount,
      ageBuckets: ageBucketsOf(live.filter((b) => b.status !== 'accepted'), this.nowMs()),
      watermarks: { engineSeq: this.engineSeq, ledgerTxId: this.ledger.txId.toString(), ledgerId: this.ledger.id.toString() },
      counters: { ...this.counters, effectsPending: this.breaks.effectsPending, positionsKnown: this.book.size, positionsInMemory: this.book.inMemory },
    };
  }

  liveBreaks(): LiveBreak[] {
    return this.breaks.list();
  }

  /** Breaks the close recorded under me_db (negative balances at a cut, ADR 0029): taken into the live set between two messages. */
  adoptRecordedBreaks(): Promise<void> {
    return this.queue.run(() => this.breaks.adoptRecorded());
  }

  /** Acknowledge or accept a live break (admin). */
  act(breakId: string, action: 'acknowledge' | 'accept', actorId: string, reason: string | null): Promise<BreakActionOutcome> {
    return this.queue.run(() => this.breaks.act(breakId, action, actorId, reason));
  }

  /**
   * The seal at a cutover: the state between two messages is a consistent cut of both sides
   * (engine seq, ledger watermark). Written once per business date; a second call returns
   * the first seal. Costs O(open breaks): the digest is maintained as positions change.
   */
  seal(businessDate: string): Promise<MeDbSeal> {
    return this.queue.run(async () => {
      await this.checkpoint();
      const cut = { engineSeq: this.engineSeq, ledgerTxId: this.ledger.txId.toString(), ledgerId: this.ledger.id.toString(), positions: this.book.size };
      const openBreaks = this.breaks.list();
      return writeSealOnce(this.writes, { boundary: meDbBoundary, businessDate, cut, digest: this.digest.hex(), openBreaks });
    });
  }

  /** False on a first start: no checkpoint. */
  private async restore(): Promise<boolean> {
    const saved = await loadCheckpoint(this.deps.pool);
    await this.breaks.load();
    if (!saved) return false;
    const nowMs = this.nowMs();
    this.book.markRestored(nowMs);
    const restored = await restorePositions(this.deps.pool, this.book, this.digest, {
      inMemoryMax: this.deps.limits.positionsInMemoryMax, nowMs, breaking: (userId, currency) => this.breaks.has(balanceKind, breakKeyOf({ userId, currency })),
    });
    for (const key of restored.held) this.watched.add(key);
    for (const [currency, total] of saved.currencyTotals) this.currencyTotals.set(currency, total);
    this.engineSeq = saved.engineSeq;
    this.appliedThroughSeq = saved.engineSeq;
    this.seenThroughStreamSeq = saved.engineStreamSeq ?? Number.POSITIVE_INFINITY;
    this.engineStreamSeq = saved.engineStreamSeq ?? 0;
    this.ledger = saved.ledger;
    this.rowsRead = saved.rowsRead;
    return true;
  }

  /**
   * A first start: both sides seeded as sets at their own watermarks (cold-seed.ts, ADR 0025),
   * restored as a checkpoint would be (so a difference dates from now at the earliest, and is
   * judged once both sides are complete past it). The durable consumer is recreated where the
   * balance stream is followed from: a margin before the first event past the snapshot, or the
   * stream's start when there is no snapshot.
   *
   * What does not depend on both reads overlaps them (on a cold start with a backlog these
   * round trips were a third of the time): the saved positions are cleared while the sides are
   * read, and the consumer is recreated as soon as the snapshot's first chunk tells where.
   */
  private async coldSeed(consumerSpec: Omit<DurableConsumerSpec, 'firstStart'>): Promise<void> {
    const { deps } = this;
    const startedMs = performance.now();
    const cleared = replaceSavedPositions(this.writes, []);
    cleared.catch(() => undefined); // awaited below, once the reads are done
    const followFrom = (streamStartSeq: number | null): number | 'all' =>
      streamStartSeq === null ? 'all' : Math.max(1, streamStartSeq - deps.limits.seedStreamMarginEvents);
    let locateMs = 0;
    const seed = await takeColdSeed({
      nc: deps.nc, names: deps.names, pool: deps.pool, snapshotTimeoutMs: deps.limits.snapshotTimeoutMs, nowMs: this.nowMs,
      locate: async (asOfSeq) => {
        const locateStartedMs = performance.now();
        const streamStartSeq = await streamSeqAfter(deps.jsm, deps.names.meBalanceStream, deps.names.meBalanceSubjectAll, asOfSeq);
        await recreateDurableConsumerAt(deps.jsm, consumerSpec, followFrom(streamStartSeq));
        locateMs = performance.now() - locateStartedMs;
        return streamStartSeq;
      },
    });
    await cleared;
    const readMs = performance.now() - startedMs;
    const nowMs = this.nowMs();
    this.book.markRestored(nowMs);
    const positions = seededPositions(seed);
    if (positions.size <= deps.limits.positionsInMemoryMax) {
      // Compared here, once, as they go in: a key whose sides agree and that no break can be
      // open on is confirmed now (and counted as the first round's comparison would); the rest
      // are watched, and judged before start() returns.
      const breaksUnheld = this.breaks.unheldCount > 0;
      const breaksHeld = this.breaks.list().length > 0;
      let equal = 0;
      for (const [key, p] of positions) {
        this.digestChanges.noteNew(key); // new to the digest: added at the first checkpoint
        this.book.restore(p.userId, p.currency, p.engineTotalMinor, p.engineSeq, p.ledgerTotalMinor, nowMs, key);
        this.dirty.add(key);
        if (p.engineTotalMinor === p.ledgerTotalMinor && !breaksUnheld && !(breaksHeld && this.breaks.has(balanceKind, breakKeyOf(p)))) equal++;
        else this.watched.add(key);
      }
      this.checkCounts.keysCompared += equal;
      this.checkCounts.keysEqual += equal;
    } else {
      // More than the cap (ADR 0026): all saved now, so the ones not held are where an eviction
      // would have left them; held, as a restart holds: those that differ (or break) first.
      const all = [...positions.values()];
      positions.clear();
      await replaceSavedPositions(this.writes, all);
      const { held } = holdSeededPositions(this.book, this.digest, all, {
        inMemoryMax: deps.limits.positionsInMemoryMax, nowMs, breaking: (userId, currency) => this.breaks.has(balanceKind, breakKeyOf({ userId, currency })),
      });
      for (const key of held) this.watched.add(key);
    }
    for (const [currency, total] of seededCurrencyTotals(seed)) {
      this.currencyTotals.set(currency, total);
      this.currenciesToCheck.add(currency);
    }
    this.loops.push(this.checkSeededJournals(seed.ledger.horizonTxId));
    this.ledger = seed.ledger.watermark;
    this.rowsRead = seed.ledger.rows;
    this.ledgerCompleteMs = seed.ledgerReadStartedMs;
    this.ledgerBehind = false;
    this.counters.ledgerRowsSeeded = Number(seed.ledger.rows);
    this.lastDeltaAtMs = nowMs;
    const log = {
      event: 'recon.cold_seeded', boundary: meDbBoundary, ledgerRows: seed.ledger.rows.toString(), ledger: stringify(seed.ledger.watermark), positions: this.book.size,
      readMs: Math.round(readMs), snapshotMs: Math.round(seed.engineReadMs), locateMs: Math.round(locateMs), ledgerSeedMs: Math.round(seed.ledgerReadMs), applyMs: Math.round(performance.now() - startedMs - readMs),
    };
    if (!seed.engine) {
      // The snapshot failed (after any recreation `locate` made: takeColdSeed waits for it).
      await recreateDurableConsumerAt(deps.jsm, consumerSpec, 'all');
      deps.log.warn({ ...log, code: seed.engineUnavailable?.code, err: seed.engineUnavailable?.message }, 'me_db seeded the ledger; engine snapshot unavailable, reading the balance stream from its start');
      return;
    }
    this.engineSeq = seed.engine.asOfSeq;
    this.appliedThroughSeq = seed.engine.asOfSeq;
    // A margin before the first event past the snapshot: events the snapshot holds are judged seen,
    // and one stored out of order near the boundary is not skipped.
    const startSeq = followFrom(seed.engine.streamStartSeq);
    // Every event stored up to the first one past the snapshot is in it: saved as the checkpoint's
    // stream seq, the margin and anything before it stay redeliveries (seen) after a restart, even
    // one that comes before the margin was read again, not a sequence going back.
    if (seed.engine.streamStartSeq !== null) this.engineStreamSeq = Math.max(this.engineStreamSeq, seed.engine.streamStartSeq - 1);
    deps.log.info({ ...log, asOfSeq: seed.engine.asOfSeq, balances: seed.engine.balances.size, streamStartSeq: startSeq, totalMs: Math.round(performance.now() - startedMs) }, 'me_db seeded from the engine snapshot and the ledger');
  }

  /** First start: the engine's balances as of a seq; events up to it are then skipped. */
  private async seedFromSnapshot(): Promise<void> {
    const result = await fetchSnapshot(this.deps.nc, this.deps.names, { chunkSize: 1_000, timeoutMs: this.deps.limits.snapshotTimeoutMs });
    if (!result.ok) {
      // No engine answering yet: its stream, from the start, is then the whole history.
      this.deps.log.warn({ event: 'recon.snapshot_unavailable', code: result.error.code, err: result.error.message }, 'engine snapshot unavailable; reading the balance stream from its start');
      return;
    }
    // A checkpoint at seq 0 may have left positions only in Postgres.
    await this.book.ensureLoaded(result.snapshot.balances.map((b) => b.userId), reconLimits.meDbLoadUsersPerQueryMax);
    const nowMs = this.nowMs();
    for (const row of result.snapshot.balances) {
      this.applyEngineTotal(row.userId, row.currency, row.totalMinor, result.snapshot.asOfSeq, nowMs);
    }
    this.engineSeq = result.snapshot.asOfSeq;
    this.appliedThroughSeq = result.snapshot.asOfSeq;
    await this.coverSnapshotInStream(result.snapshot.asOfSeq);
    this.deps.log.info({ event: 'recon.snapshot_loaded', asOfSeq: result.snapshot.asOfSeq, rows: result.snapshot.balances.length }, 'engine snapshot loaded');
  }

  /**
   * After a seed from the engine's snapshot as of `asOfSeq`: the stream seqs of the events it holds
   * count as accounted for. The checkpoint saves this as its stream seq, and a restart judges a
   * redelivery at or below it seen; without it, a restart before those events were read again
   * (they are redelivered: the consumer starts at or before them) took them for the sequence going
   * back and paged a false sequence_regression. Unknown (an unreadable event on the way): unchanged.
   */
  private async coverSnapshotInStream(asOfSeq: number): Promise<void> {
    const { jsm, names } = this.deps;
    const firstPast = await streamSeqAfter(jsm, names.meBalanceStream, names.meBalanceSubjectAll, asOfSeq);
    if (firstPast !== null) this.engineStreamSeq = Math.max(this.engineStreamSeq, firstPast - 1);
  }

  /**
   * The journal check of the seeded history (every journal sums to zero), which the follower
   * would have made row by row: one grouping over the rows below the seed's horizon, after
   * start() (ADR 0025). Retried until it has run; a stop before then leaves it undone (logged).
   */
  private async checkSeededJournals(horizonTxId: bigint, after: LedgerWatermark = ledgerStart): Promise<void> {
    const { limits, log } = this.deps;
    for (let retryMs = 250; !this.stopped; retryMs = Math.min(2_000, retryMs * 2)) {
      try {
        const { journals, truncated } = await readUnbalancedJournals(this.deps.pool, horizonTxId, limits.seedJournalsMax, after);
        await this.queue.run(async () => {
          const nowMs = this.nowMs();
          await judgeJournals(this.breaks, journalSumsOf(journals), nowMs);
          if (truncated) {
            await this.breaks.raise({ kind: errorKind, key: 'seed-journals', detail: `more than ${limits.seedJournalsMax} unbalanced journals in the ledger's history; the first are listed as breaks` }, nowMs);
          }
        });
        log.info({ event: 'recon.seed_journals_checked', boundary: meDbBoundary, unbalanced: journals.length, truncated }, 'journals of the seeded ledger history checked');
        return;
      } catch (error) {
        this.reportError('seed-journals', error);
        await new Promise((resolve) => setTimeout(resolve, retryMs));
      }
    }
    log.warn({ event: 'recon.seed_journals_unchecked', boundary: meDbBoundary }, 'stopped before the journals of the seeded ledger history were checked');
  }

  /**
   * A consume of the balance consumer, just (re)created: its delivery count so far (0 unless
   * another instance consumed it meanwhile) is where the gap check starts.
   */
  private async openConsumeSession(): Promise<ConsumeSession> {
    const consumer = await this.deps.js.consumers.get(this.consumerSpec.stream, this.consumerSpec.name);
    // (The info get() has just fetched: no second round trip.)
    const info = await consumer.info(true);
    // Until the first message says otherwise, the engine side is as far behind as the consumer's
    // backlog: after a restart, a ledger read faster than the stream must not judge a lagging engine.
    this.engineBacklog = info.num_pending;
    const messages = await consumer.consume({ max_messages: 1_000, expires: consumePullExpiresMs });
    return { messages, lastDelivery: info.delivered.consumer_seq };
  }

  /**
   * Consumes session after session. A delivery lost in transit (the connection dropped while the
   * server wrote it) would come back only after ack_wait, below a newer event applied meanwhile:
   * a sequence regression, parked and paged, its total never applied. Its trace is a gap in the
   * delivery sequence: the session then ends, and the consumer is rewound to its ack floor, so
   * the lost event comes first (ADR 0031).
   */
  private followEngine(first: ConsumeSession): Promise<void> {
    return consumeAcrossGaps(first, {
      pump: (session) => this.pumpEngine(session),
      onGap: (gap) => {
        this.counters.engineDeliveryGaps++;
        this.deps.log.warn({ event: 'recon.me_db.delivery_gap', boundary: meDbBoundary, expected: gap.expected, got: gap.got, streamSeq: gap.streamSeq },
          'engine event delivery lost in transit: rewinding the balance consumer to its ack floor');
      },
      reopen: () => this.reopenAfterGap(),
      stopped: () => this.stopped,
      current: (messages) => void (this.messages = messages),
    });
  }

  /**
   * Feeds the engine inbox (bounded: the pump waits when it is full) until the session ends;
   * returns the gap that ended it (the message showing it, and what follows, not taken: they
   * come again behind the lost one), or null (stopped).
   */
  private async pumpEngine(session: ConsumeSession): Promise<DeliveryGap | null> {
    let gap: DeliveryGap | null = null;
    for await (const msg of session.messages) {
      gap = deliveryGap(session, msg);
      if (gap) break;
      this.engineInbox.push(msg);
      if (this.engineInbox.size >= reconLimits.meDbEngineInboxMax) await this.engineInbox.drained;
      if (this.unacked.length >= this.deps.limits.engineInFlightMax / 2) {
        await this.queue.run(() => this.checkpoint()).catch((e: unknown) => this.reportError('checkpoint', e));
      }
    }
    await this.engineInbox.drained;
    return gap;
  }

  /**
   * After a gap: once what the inbox holds is handled and checkpointed, rewinds the consumer to
   * its ack floor and consumes again (each step retried until it works); null if stopped first.
   *
   * The checkpoint first, and it must succeed: it acks what was applied (an ack sent after the
   * rewind could reach the new consumer and move its floor past events not yet applied), and
   * from it the redeliveries of what was applied are judged seen. Without it they would be
   * judged a sequence going back (their seq is at most the one applied, their stream seq past
   * what was checkpointed): exactly the false page this avoids.
   */
  private async reopenAfterGap(): Promise<ConsumeSession | null> {
    while (!this.stopped) {
      try {
        await this.engineInboxEmpty();
        await this.queue.run(async () => {
          await this.checkpoint();
          // Everything applied is in the checkpoint now: a redelivery of it is seen, not a fault.
          this.appliedThroughSeq = this.engineSeq;
          this.seenThroughStreamSeq = Math.max(this.seenThroughStreamSeq, this.engineStreamSeq);
        });
        break;
      } catch (error) {
        this.reportError('checkpoint', error);
        await this.sleep(reconLimits.meDbGapRetryMs);
      }
    }
    await this.sleep(this.gapBackoff.next());
    while (!this.stopped) {
      try {
        await rewindDurableConsumer(this.deps.jsm, { ...this.consumerSpec, firstStart: 'all' });
        return await this.openConsumeSession();
      } catch (error) {
        this.deps.log.warn({ event: 'recon.me_db.rewind_failed', boundary: meDbBoundary, err: (error as Error).message }, 'balance consumer not rewound yet; retrying');
        await this.sleep(reconLimits.meDbGapRetryMs);
      }
    }
    return null;
  }

  /** Until the inbox has handled all it holds: a batch that could not be loaded stays in it, retried (engine-inbox.ts). */
  private async engineInboxEmpty(): Promise<void> {
    for (;;) {
      await this.engineInbox.drained;
      if (this.engineInbox.size === 0 || this.stopped) return;
      await this.sleep(reconLimits.meDbGapRetryMs);
    }
  }

  /** A wait that a stop ends early. */
  private async sleep(ms: number): Promise<void> {
    if (!this.stopped) await sleepUnlessStopped(ms, this.stopSignal);
  }

  private async onEngineMessage(msg: JsMsg): Promise<void> {
    const parsed = parseBalanceEvent(msg.data, { subjectUserId: userIdOfBalanceSubject(msg.subject) });
    if (!parsed.ok) return this.parkEngineEvent(msg, `${parsed.code}: ${parsed.reason}`);
    const event = parsed.event;
    const sequence = judgeSequence(event.seq, msg.seq, { engineSeq: this.engineSeq, appliedThroughSeq: this.appliedThroughSeq, seenThroughStreamSeq: this.seenThroughStreamSeq });
    this.engineStreamSeq = Math.max(this.engineStreamSeq, msg.seq);
    if (sequence.verdict === 'seen') {
      this.unacked.push(msg);
      return;
    }
    if (sequence.verdict === 'fault') return this.sequenceFault(msg, sequence.kind, `${sequence.reason} (stream seq ${msg.seq})`);
    this.applyEngineTotal(event.userId, event.currency, event.totalMinor, event.seq, dateOfChange(event.tsMs, this.engineClaimedCompleteMs, this.nowMs()));
    this.engineSeq = event.seq;
    this.appliedEvents.push(event);
    this.engineBacklog = msg.info.pending;
    this.engineAppliedTsMs = Math.max(this.engineAppliedTsMs, event.tsMs);
    this.counters.engineEventsApplied++;
    this.lastDeltaAtMs = this.nowMs();
    this.unacked.push(msg);
  }

  /**
   * An event whose sequence cannot follow the last one applied: parked, and paged once as a
   * meta-break saying how to re-baseline, so the boundary never goes blind silently.
   */
  private async sequenceFault(msg: JsMsg, kind: string, reason: string): Promise<void> {
    await this.parkEngineEvent(msg, reason);
    await this.breaks.raise({ kind, key: sequenceKey, detail: sequenceFaultDetail(reason, this.deps.names.adminPrefix) }, this.nowMs());
  }

  /**
   * The operator's re-baseline after a sequence fault: the engine's balances as of its
   * snapshot replace the engine side, events up to the snapshot's seq are skipped, and the
   * sequence meta-breaks resolve. Returns the snapshot's seq and row count.
   */
  rebaseline(actorId: string, reason: string): Promise<{ asOfSeq: number; balances: number; previousSeq: number }> {
    return this.queue.run(async () => {
      const result = await fetchSnapshot(this.deps.nc, this.deps.names, { chunkSize: 1_000, timeoutMs: this.deps.limits.snapshotTimeoutMs });
      if (!result.ok) throw new Error(`engine snapshot unavailable (${result.error.code}): ${result.error.message}`);
      const previousSeq = this.engineSeq;
      await this.prepareBatch(result.snapshot.balances.map((b) => b.userId));
      await this.book.ensureEngineBalancesLoaded();
      const nowMs = this.nowMs();
      for (const t of rebaselineTotals(result.snapshot, this.book)) this.applyEngineTotal(t.userId, t.currency, t.totalMinor, result.snapshot.asOfSeq, nowMs);
      this.engineSeq = result.snapshot.asOfSeq;
      this.appliedThroughSeq = result.snapshot.asOfSeq;
      // Events the snapshot contains may still be ahead in the stream: redeliveries, not faults.
      this.seenThroughStreamSeq = Number.POSITIVE_INFINITY;
      await this.coverSnapshotInStream(result.snapshot.asOfSeq);
      await this.checkpoint();
      for (const kind of [breakKinds.sequenceJump, breakKinds.sequenceRegression]) await this.breaks.resolve(kind, sequenceKey);
      this.deps.log.warn({ event: 'recon.rebaselined', boundary: meDbBoundary, actorId, reason, previousSeq, asOfSeq: result.snapshot.asOfSeq, balances: result.snapshot.balances.length }, 'me_db re-baselined from the engine snapshot');
      return { asOfSeq: result.snapshot.asOfSeq, balances: result.snapshot.balances.length, previousSeq };
    });
  }

  private async parkEngineEvent(msg: JsMsg, reason: string): Promise<void> {
    await parkCommand(this.deps.pool, { stream: msg.info.stream, streamSeq: msg.seq, subject: msg.subject, payload: msg.string(), bytes: msg.data }, reason, 1);
    this.counters.engineEventsParked++;
    this.deps.log.error({ event: 'recon.engine_event_parked', subject: msg.subject, streamSeq: msg.seq, reason }, 'engine event breaks the contract; parked');
    this.unacked.push(msg);
  }

  private applyEngineTotal(userId: string, currency: string, totalMinor: bigint, seq: number, atMs: number): void {
    this.digestChanges.noteBefore(this.book, keyOf(userId, currency));
    this.changed(this.book.applyEngine(userId, currency, totalMinor, seq, atMs));
  }

  private async followLedger(restored: boolean): Promise<void> {
    if (restored) await this.catchUpLedgerAsSums();
    while (!this.stopped) {
      let full = false;
      try {
        // Read outside the queue (the next batch is read ahead meanwhile); only applying is serialised.
        const read = await this.prefetch.next(this.ledger);
        full = await this.queue.run(async () => (sameWatermark(read.from, this.ledger) ? this.applyLedgerRead(read) : true));
      } catch (error) {
        this.reportError('ledger', error);
      }
      if (!full && !this.stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.deps.limits.ledgerPollMs);
          this.ledgerWake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.ledgerWake = null;
      }
    }
  }

  /**
   * After a restore with at least a full batch of ledger rows past the checkpoint's watermark:
   * those rows taken in as sums per key, as the cold seed does, from the watermark up to the
   * horizon of one snapshot (ADR 0025, "catch-up of the ledger side"); the follower goes on from
   * the last of them. Not applied if something else (a tick) read the ledger meanwhile; a failure
   * leaves the rows to the follower.
   */
  private async catchUpLedgerAsSums(): Promise<void> {
    const from = this.ledger;
    try {
      const { pool, limits } = this.deps;
      if (!(await ledgerRowsPastAtLeast(pool, from, limits.ledgerBatchRowsMax))) return;
      const startedMs = performance.now();
      const readStartedMs = this.nowMs();
      const sums = await readLedgerSumsAfter(pool, from);
      const readMs = performance.now() - startedMs;
      const applied = await this.queue.run(async () => {
        if (!sameWatermark(from, this.ledger)) return false;
        await this.applyLedgerSums(sums, readStartedMs);
        return true;
      });
      this.deps.log.info({
        event: 'recon.ledger_caught_up_as_sums', boundary: meDbBoundary, applied, rows: sums.rows.toString(), keys: sums.totals.length,
        from: stringify(from), ledger: stringify(sums.watermark), readMs: Math.round(readMs), totalMs: Math.round(performance.now() - startedMs),
      }, 'me_db took the ledger rows past its checkpoint in as sums');
      if (applied && sums.rows > 0n) this.loops.push(this.checkSeededJournals(sums.horizonTxId, from));
    } catch (error) {
      this.reportError('ledger', error);
    }
  }

  /**
   * The sums of the rows past the watermark as ledger deltas, dated as a restore dates them (a
   * difference from now at the earliest: the rows' own times are not known apart). Applied in
   * chunks of at most one batch's keys, each chunk's evicted positions loaded first, as a batch.
   */
  private async applyLedgerSums(sums: LedgerSeed, readStartedMs: number): Promise<void> {
    const chunkKeysMax = this.deps.limits.ledgerBatchRowsMax;
    for (let i = 0; i < sums.totals.length; i += chunkKeysMax) {
      const chunk = sums.totals.slice(i, i + chunkKeysMax);
      await this.prepareBatch(chunk.map((t) => t.userId));
      const nowMs = this.nowMs();
      for (const t of chunk) this.applyLedgerAmount(t.userId, t.currency, t.totalMinor, nowMs);
    }
    this.ledger = sums.watermark;
    this.rowsRead += sums.rows;
    this.counters.ledgerRowsSeeded += Number(sums.rows);
    this.ledgerCompleteMs = Math.max(this.ledgerCompleteMs, readStartedMs);
    this.ledgerBehind = false;
    if (sums.rows > 0n) this.lastDeltaAtMs = this.nowMs();
  }

  /** Reads one batch past the watermark and applies it; true when the batch was full (more is waiting). */
  private async readLedger(): Promise<boolean> {
    const startedMs = this.nowMs();
    const { full, batch } = await this.readLedgerAfter(this.ledger);
    return this.applyLedgerRead({ from: this.ledger, full, batch, startedMs });
  }

  /** Applies a batch read past the current watermark (the prefetched one too): its evicted positions are loaded first. */
  private async applyLedgerRead({ full, batch, startedMs }: LedgerRead): Promise<boolean> {
    await this.prepareBatch(batch.rows.map((row) => row.userId));
    const nowMs = this.nowMs();
    const journals = new Map<string, Map<string, bigint>>();
    for (const row of batch.rows) this.applyLedgerRow({ ...row, createdAtMs: dateOfChange(row.createdAtMs, this.ledgerCompleteMs, nowMs) }, nowMs, journals);
    await judgeJournals(this.breaks, journals, nowMs);
    if (batch.rows.length > 0) {
      this.ledger = batch.next;
      this.lastDeltaAtMs = nowMs;
    }
    this.ledgerBehind = full;
    if (!full) this.ledgerCompleteMs = Math.max(this.ledgerCompleteMs, startedMs);
    return full;
  }

  private applyLedgerRow(row: LedgerRow, nowMs: number, journals: Map<string, Map<string, bigint>>): void {
    this.rowsRead++;
    this.counters.ledgerRowsRead++;
    this.counters.ledgerRowsReadSinceStart++;
    addToJournal(journals, row);
    this.applyLedgerAmount(row.userId, row.currency, row.amountMinor, row.createdAtMs);
  }

  /** An amount posted to an account in the ledger (one row, or the sum of a catch-up's rows): its currency's total and its position. */
  private applyLedgerAmount(userId: string, currency: string, amountMinor: bigint, atMs: number): void {
    this.currencyTotals.set(currency, (this.currencyTotals.get(currency) ?? 0n) + amountMinor);
    this.currenciesToCheck.add(currency);
    // House accounts live only in the ledger: no engine balance to compare with.
    if (userId.startsWith('house:')) return;
    this.digestChanges.noteBefore(this.book, keyOf(userId, currency));
    this.changed(this.book.applyLedger(userId, currency, amountMinor, atMs));
  }

  /** The digest catches up at the next checkpoint (digest-changes.ts). */
  private changed(key: string): void {
    this.watched.add(key);
    this.dirty.add(key);
  }

  /** At most one tick waits in the queue: a slow tick delays the next, never piles them up. */
  private scheduleTick(): void {
    if (this.stopped) return;
    this.queue.runCoalesced('tick', () => this.tick())?.catch((e: unknown) => this.reportError('tick', e));
  }

  private async tick(): Promise<void> {
    const nowMs = this.nowMs();
    const catchingUp = this.catchingUp();
    // Catching up, nothing can be judged complete past the changes being applied: comparing every
    // watched key four times a second would only cost the catch-up time. Less often, not never.
    if (!catchingUp || nowMs - this.lastCompareMs >= this.deps.limits.compareBehindMs) {
      this.lastCompareMs = nowMs;
      await this.judgeWatched(nowMs);
    }
    await judgeCurrencyTotals(this.breaks, this.currenciesToCheck, this.currencyTotals, nowMs);
    // Catching up, checkpoints are further apart (each is a transaction the queue waits for); the
    // unacked limit still forces one (pumpEngine), so a restart redoes a bounded amount.
    if (nowMs - this.lastCheckpointMs >= (catchingUp ? this.deps.limits.checkpointBehindMs : this.deps.limits.checkpointMs)) await this.checkpoint();
  }

  /** A backlog on either side: the last ledger read was full, or more engine events wait than one batch holds. */
  /** Anything left to read on either side: engine events still in the stream, a ledger read that came back full. */
  private sideBehind(): boolean {
    return this.ledgerBehind || this.engineBacklog > 0;
  }

  private catchingUp(): boolean {
    return this.ledgerBehind || this.engineBacklog >= reconLimits.meDbEngineInboxMax;
  }

  /** Compares the watched keys, and raises those still breaking once the ledger is read to its horizon. */
  private async judgeWatched(nowMs: number): Promise<void> {
    let suspects = await this.compareWatched(this.clocks());
    if (suspects.length > 0) {
      // Before calling anything a break, make sure our own view of the ledger is current:
      // rows committed before the engine change may simply not have been read yet.
      while (await this.readLedger());
      suspects = await this.compareWatched(this.clocks(), suspects);
    }
    if (suspects.length > 0) {
      // A long transaction anywhere on the server holds the read horizon back; rows committed
      // past it are real. Judge the suspects against the ledger as committed now.
      const committed = await committedPastWatermark(this.deps.pool, suspects, this.ledger);
      const clocks = { ...this.clocks(), ledgerCompleteMs: this.nowMs() };
      suspects = stillBreaking(this.book, suspects, committed, clocks);
    }
    for (const p of suspects) {
      await this.breaks.raise(
        { kind: balanceKind, key: breakKeyOf(p), userId: p.userId, currency: p.currency, leftMinor: p.engineTotalMinor, rightMinor: p.ledgerTotalMinor },
        p.differentSinceMs ?? nowMs,
      );
      // A break recorded but not held (a storm): judged again when the key changes, not every tick.
      if (!this.breaks.has(balanceKind, breakKeyOf(p))) this.watched.delete(keyOf(p.userId, p.currency));
    }
  }

  /**
   * How far each side is complete: the engine up to now when nothing of its stream is
   * waiting, else up to the last event applied; the ledger up to its last full read.
   */
  private clocks(): SideClocks {
    const engineCaughtUp = this.engineBacklog === 0 && this.engineInbox.size === 0;
    const engineCompleteMs = engineCaughtUp ? this.nowMs() : this.engineAppliedTsMs;
    this.engineClaimedCompleteMs = Math.max(this.engineClaimedCompleteMs, engineCompleteMs);
    return { engineCompleteMs, ledgerCompleteMs: this.ledgerCompleteMs };
  }

  private compareWatched(clocks: SideClocks, only?: readonly Position[]): Promise<Position[]> {
    return compareWatched(this.book, this.watched, this.breaks, this.checkCounts, clocks, only);
  }

  /** Saves totals and watermarks, then acks the engine events they include. */
  private async checkpoint(): Promise<void> {
    await this.writeCheckpoint(this.captureCheckpoint());
    await this.afterCheckpoint();
  }

  /** The state to save, copied at the cut (a value, not the live positions). */
  private captureCheckpoint(): CapturedCheckpoint {
    this.digestChanges.flushInto(this.digest, this.book);
    const keys = [...this.dirty];
    this.dirty.clear();
    const dirtyPositions: SavedPosition[] = [];
    for (const key of keys) {
      const p = this.book.get(key);
      if (p) dirtyPositions.push({ userId: p.userId, currency: p.currency, engineTotalMinor: p.engineTotalMinor, engineSeq: p.engineSeq, ledgerTotalMinor: p.ledgerTotalMinor });
    }
    const check = { ...this.checkCounts, breaksOpen: this.breaks.openCount };
    this.checkCounts = { keysCompared: 0, keysEqual: 0, keysInFlight: 0 };
    return {
      keys,
      acks: this.unacked.splice(0),
      write: {
        engineEvents: this.appliedEvents.splice(0),
        engineSeq: this.engineSeq,
        engineStreamSeq: this.engineStreamSeq,
        ledger: this.ledger,
        rowsRead: this.rowsRead,
        dirtyPositions,
        currencyTotals: new Map(this.currencyTotals),
        check,
      },
    };
  }

  private async writeCheckpoint(captured: CapturedCheckpoint): Promise<void> {
    try {
      await saveCheckpoint(this.writes, captured.write);
    } catch (error) {
      // Not saved: its positions are dirty again (their current values go in the next one), its events wait.
      for (const key of captured.keys) this.dirty.add(key);
      this.unacked.unshift(...captured.acks);
      this.appliedEvents.unshift(...(captured.write.engineEvents ?? []));
      throw error;
    }
    for (const msg of captured.acks) msg.ack();
    this.counters.checks++;
    this.lastCheckpointMs = this.nowMs();
  }

  private async afterCheckpoint(): Promise<void> {
    await this.breaks.touchAll();
    await this.breaks.resolve(errorKind, 'engine');
  }

  /**
   * Before a batch: room within the position cap (checkpointing first when only unsaved
   * positions could make room), then the batch's evicted positions loaded back in one query.
   */
  private async prepareBatch(userIds: string[]): Promise<void> {
    let eviction = this.book.evictToCap();
    // A checkpoint per batch would cost more than it frees: only when it frees a tenth of the cap.
    if (!eviction.underCap && eviction.keptDirty >= this.deps.limits.positionsInMemoryMax / 10) {
      await this.checkpoint();
      eviction = this.book.evictToCap();
    }
    await this.positionCap.judge(eviction, this.nowMs(), this.sideBehind());
    await this.book.ensureLoaded(userIds, reconLimits.meDbLoadUsersPerQueryMax);
  }

  private reportError(where: string, error: unknown): void {
    reportReconcilerError(this.errors, where, error);
  }
}

interface CapturedCheckpoint {
  /** The dirty keys it covers, and the engine messages it acks once saved. */
  keys: string[];
  acks: JsMsg[];
  write: CheckpointWrite;
}

const stringify = (w: LedgerWatermark) => ({ txId: w.txId.toString(), id: w.id.toString() });

import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { userIdSchema } from '../../actors/identifiers.js';
import { decimalToMinor } from '../../config/decimal.js';
import type { Pool } from '../../db/pool.js';
import type { NatsNames } from '../../nats/names.js';
import type { Logger } from '../../observability/logger.js';
import { balanceScale, currencySchema, type BalanceRow } from '../matching-engine/contract.js';
import { BalanceRegistry, type BalanceDelta } from './balance-registry.js';
import { BalancePublisher, type PublisherStats } from './balance-publisher.js';
import { ensureBalanceStream, ensureFillStream } from './balance-stream.js';
import { fillWireOf } from '../matching-engine/fill-contract.js';
import { adjustBalanceCommandSchema, cancelOrdersCommandSchema } from '../matching-engine/engine-commands.js';
import { signedDecimalToMinor } from '../../config/decimal.js';
import { DelayQueue } from './delay-queue.js';
import {
  FaultBook,
  sortDiscrepancies,
  type Discrepancy,
  type DoubleApplyTradeSpec,
  type DropLedgerWriteSpec,
  type EngineOnlyChangeSpec,
  type FaultHandle,
  type FaultReport,
} from './faults.js';
import { LedgerWriter, type LedgerWriterStats } from './ledger-writer.js';
import { OperationGenerator } from './operation-generator.js';
import { isHouse, type Journal, type OperationKind } from './operation.js';
import { Prng } from './prng.js';
import { SimulatedEngine } from './simulated-engine.js';
import { serveSnapshots } from './snapshot-server.js';

export const simulatorLimits = {
  tickMs: 10,
  /** Events generated in one tick at most, so a catch-up burst never blocks the event loop for long. */
  tickEventsMax: 2_000,
  /** Unspent rate budget kept across ticks: a stall is not made up for beyond this (seconds of rate). */
  burstSeconds: 0.25,
  rateEventsPerSecMax: 100_000,
  publishInFlightMax: 4_096,
  /** Operations held back by a delay knob, per side. */
  delayedOperationsMax: 500_000,
  usersMax: 100_000,
  delayMsMax: 3_600_000,
  statsLogIntervalMs: 30_000,
} as const;

export interface InitialFaults {
  ledgerDelayMs?: number;
  engineDelayMs?: number;
  dropLedgerWrite?: DropLedgerWriteSpec;
  doubleApplyTrade?: DoubleApplyTradeSpec;
  engineOnlyChange?: EngineOnlyChangeSpec;
}

export interface ExchangeSimulatorOptions {
  nc: NatsConnection;
  pool: Pool;
  names: NatsNames;
  seed: number;
  /** Engine balance events per second to generate (each operation makes 1–4). */
  rateEventsPerSec: number;
  /** A count (ids u0001, u0002, …) or the ids themselves. */
  users: number | readonly string[];
  currencies: readonly string[];
  log: Logger;
  faults?: InitialFaults;
  /** Prefix of journal and reference ids; unique per run by default. */
  runTag?: string;
  /** Start from the ledger's balances for these users when it already has some (a restart). Default true. */
  resumeFromLedger?: boolean;
}

export interface SimulatorStats {
  /** Set when a bug stopped generation (the message of what threw); null while healthy. */
  failure: string | null;
  paused: boolean;
  stopped: boolean;
  rateEventsPerSec: number;
  ledgerDelayMs: number;
  engineDelayMs: number;
  /** Time spent generating (not paused). */
  runningMs: number;
  lastSeq: number;
  engineEventsApplied: number;
  fillsPublished: number;
  /** Engine events applied per second of running time. */
  achievedEventsPerSec: number;
  operations: Record<OperationKind, number>;
  journalsDropped: number;
  engineQueueDepth: number;
  ledgerQueueDepth: number;
  /** Ticks in which generation waited for the publisher or the ledger writer. */
  backpressureTicks: number;
  publisher: PublisherStats;
  ledger: LedgerWriterStats;
}

export interface SimulatorFaults {
  dropLedgerWrite(spec: DropLedgerWriteSpec): FaultHandle;
  doubleApplyTrade(spec?: DoubleApplyTradeSpec): FaultHandle;
  /** Throws RangeError if the change would make the engine's available balance negative. */
  engineOnlyChange(spec: EngineOnlyChangeSpec): FaultHandle;
  /** The ledger side lags the engine by this much, queued changes included (transient discrepancies: `delayed()`). */
  setLedgerDelayMs(delayMs: number): void;
  setEngineDelayMs(delayMs: number): void;
  reports(): FaultReport[];
  /** engine − ledger from every fault not yet fixed, summed per (user, currency). */
  open(): Discrepancy[];
  /** engine − ledger from what the delay knobs hold back right now (not yet applied on the lagging side). */
  delayed(): Discrepancy[];
}

export interface ExchangeSimulator {
  readonly userIds: readonly string[];
  readonly currencies: readonly string[];
  readonly runTag: string;
  /** Handles of the faults given at construction, in the order dropLedgerWrite, doubleApplyTrade, engineOnlyChange. */
  readonly initialFaults: FaultHandle[];
  readonly faults: SimulatorFaults;
  /** The engine's balances as published (every row, sorted by user and currency). */
  registry(): BalanceRow[];
  lastSeq(): number;
  stats(): SimulatorStats;
  setRate(rateEventsPerSec: number): void;
  /**
   * Stops generating and waits until what is in flight is durable: events acked by JetStream,
   * journals committed. With `drainDelayed` (default) it also waits out the delay knobs' queues.
   * Snapshots and fixes keep working while paused.
   */
  pause(options?: { drainDelayed?: boolean }): Promise<void>;
  resume(): void;
  /** Writes the ledger side that makes the fault's discrepancies vanish, and waits for the commit. */
  fix(faultId: string): Promise<FaultReport>;
  /** Pauses, releases every delayed change at once, waits for it to be durable, and stops serving. */
  stop(): Promise<void>;
}

const defaultUserIds = (count: number): string[] => Array.from({ length: count }, (_, i) => `u${String(i + 1).padStart(4, '0')}`);

function checkDelayMs(delayMs: number): number {
  if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > simulatorLimits.delayMsMax) {
    throw new RangeError(`delayMs must be an integer in 0…${simulatorLimits.delayMsMax}, got ${delayMs}`);
  }
  return delayMs;
}

function checkRate(rateEventsPerSec: number): number {
  if (!Number.isFinite(rateEventsPerSec) || rateEventsPerSec < 0 || rateEventsPerSec > simulatorLimits.rateEventsPerSecMax) {
    throw new RangeError(`rateEventsPerSec must be in 0…${simulatorLimits.rateEventsPerSecMax}, got ${rateEventsPerSec}`);
  }
  return rateEventsPerSec;
}

function checkIds(kind: string, ids: readonly string[], valid: (id: string) => boolean): void {
  if (new Set(ids).size !== ids.length) throw new RangeError(`${kind} must be unique`);
  const bad = ids.find((id) => !valid(id));
  if (bad !== undefined) throw new RangeError(`${kind}: "${bad}" is not valid`);
}

/** The ledger's balance per (user, currency) for these users, when restarting against a database that has some. */
async function ledgerBalances(pool: Pool, userIds: readonly string[]): Promise<BalanceRow[]> {
  const result = await pool.query<{ user_id: string; currency: string; total: string }>(
    `SELECT user_id, currency, sum(amount)::text AS total FROM ledger_entries WHERE user_id = ANY($1) GROUP BY user_id, currency`,
    [userIds],
  );
  return result.rows.map((r) => {
    const negative = r.total.startsWith('-');
    const minor = decimalToMinor(negative ? r.total.slice(1) : r.total, balanceScale);
    const totalMinor = negative ? -minor : minor;
    return { userId: r.user_id, currency: r.currency, totalMinor, lockedMinor: 0n, availableMinor: totalMinor };
  });
}

/**
 * Starts an exchange simulator: a seeded stream of deposits, withdrawals and trades that the
 * simulated matching engine publishes as `me.balance.<userId>` events and the simulated ledger
 * service books into `ledger_entries`, with fault knobs that break exactly one side on purpose.
 */
export async function startExchangeSimulator(options: ExchangeSimulatorOptions): Promise<ExchangeSimulator> {
  const { nc, pool, names } = options;
  const log = options.log.child({ component: 'exchange-simulator' });
  const userIds = typeof options.users === 'number' ? defaultUserIds(options.users) : [...options.users];
  const currencies = [...options.currencies];
  if (userIds.length > simulatorLimits.usersMax) throw new RangeError(`at most ${simulatorLimits.usersMax} users`);
  checkIds('users', userIds, (id) => userIdSchema.safeParse(id).success);
  checkIds('currencies', currencies, (c) => currencySchema.safeParse(c).success);
  let rateEventsPerSec = checkRate(options.rateEventsPerSec);
  const runTag = options.runTag ?? `sim${options.seed}-${Date.now().toString(36)}`;

  const { lastSeq: startSeq, jsm } = await ensureBalanceStream(nc, names);
  await ensureFillStream(jsm, names);
  // Fills are numbered from the start time in ms, so a restarted simulator keeps them increasing.
  let fillSeq = Date.now();
  let fillsPublished = 0;
  const publisher = new BalancePublisher(jetstream(nc), names.meBalanceSubject, log, simulatorLimits.publishInFlightMax);
  const engine = new SimulatedEngine(startSeq, (event) => publisher.publish(event));
  // Fills have a publisher of their own, so the balance events' counts stay theirs.
  const fillPublisher = new BalancePublisher(jetstream(nc), names.meFillSubject, log, simulatorLimits.publishInFlightMax);
  const generator = new OperationGenerator(new Prng(options.seed), { userIds, currencies, runTag });
  const book = new FaultBook(runTag);
  const engineQueue = new DelayQueue<BalanceDelta[]>(simulatorLimits.delayedOperationsMax, checkDelayMs(options.faults?.engineDelayMs ?? 0));
  const ledgerQueue = new DelayQueue<Journal>(simulatorLimits.delayedOperationsMax, checkDelayMs(options.faults?.ledgerDelayMs ?? 0));

  if (options.resumeFromLedger ?? true) {
    const rows = (await ledgerBalances(pool, userIds)).filter((r) => {
      if (r.totalMinor >= 0n) return true;
      log.warn({ event: 'sim.resume.negative', userId: r.userId, currency: r.currency }, 'ledger balance is negative; starting that row at zero');
      return false;
    });
    engine.load(rows);
    generator.applyExtra(rows.map((r) => ({ userId: r.userId, currency: r.currency, availableDeltaMinor: r.availableMinor, lockedDeltaMinor: 0n })));
    if (rows.length > 0) log.info({ event: 'sim.resumed', rows: rows.length, startSeq }, 'simulator resumed from the ledger');
  }

  const writer = new LedgerWriter(pool, log);
  const snapshots = serveSnapshots(nc, names, () => engine.snapshot(), log);

  // The engine obeys this engine's commands (docs/matching-engine-contract.md), once per commandId.
  const obeyed = new Set<string>();
  const commands = nc.subscribe(names.meCommandSubjectAll, {
    callback: (error, msg) => {
      if (error || stopped) return;
      try {
        const body: unknown = msg.json();
        if (msg.subject.startsWith(names.subject('me.cmd.cancel_orders.'))) {
          const command = cancelOrdersCommandSchema.parse(body);
          if (obeyed.has(command.commandId)) return;
          obeyed.add(command.commandId);
          const ops = generator.cancelOrdersOf(command.userId);
          for (const op of ops) engineQueue.push(op.engine, Date.now());
          operations.cancel += ops.length;
          log.info({ event: 'sim.cmd.cancel_orders', userId: command.userId, orders: ops.length }, 'open orders cancelled');
        } else {
          const command = adjustBalanceCommandSchema.parse(body);
          if (obeyed.has(command.commandId)) return;
          obeyed.add(command.commandId);
          const delta: BalanceDelta = { userId: command.userId, currency: command.currency, availableDeltaMinor: signedDecimalToMinor(command.amount, balanceScale), lockedDeltaMinor: 0n };
          const problem = generator.planned.problemWith([delta]);
          if (problem) {
            log.error({ event: 'sim.cmd.adjust_refused', userId: command.userId, currency: command.currency, problem }, 'balance adjustment refused by the engine');
            return;
          }
          generator.applyExtra([delta]);
          engineQueue.push([delta], Date.now());
          log.info({ event: 'sim.cmd.adjust_balance', userId: command.userId, currency: command.currency, amount: command.amount }, 'balance adjusted');
        }
      } catch (problem) {
        log.error({ event: 'sim.cmd.invalid', subject: msg.subject, err: (problem as Error).message }, 'engine command refused');
      }
    },
  });

  const operations: Record<OperationKind, number> = { deposit: 0, withdrawal_request: 0, withdrawal: 0, order: 0, cancel: 0, trade: 0, engine_only: 0 };
  let engineEventsApplied = 0;
  let journalsDropped = 0;
  let backpressureTicks = 0;
  let paused = false;
  let stopped = false;
  let failure: string | null = null;
  let runningMs = 0;
  let budgetEvents = 0;
  let lastTickAt = performance.now();

  const releaseDue = (dueByMs: number, nowMs: number): void => {
    for (const deltas of engineQueue.takeDue(dueByMs)) engineEventsApplied += engine.apply(deltas, nowMs).length;
    for (const journal of ledgerQueue.takeDue(dueByMs)) writer.enqueue(journal);
  };

  const generateOne = (nowMs: number): number => {
    const op = generator.next();
    const extra = book.takeDouble(op);
    if (extra.length > 0) {
      generator.applyExtra(extra);
      op.engine.push(...extra);
      log.warn({ event: 'sim.fault.double_apply', userId: extra[0]?.userId, currency: extra[0]?.currency }, 'trade credited twice in the engine');
    }
    operations[op.kind] += 1;
    engineQueue.push(op.engine, nowMs);
    for (const draft of op.fills ?? []) {
      fillSeq += 1;
      fillsPublished += 1;
      fillPublisher.publishMessage(names.meFillSubject(draft.userId), JSON.stringify(fillWireOf({ ...draft, seq: fillSeq, tsMs: nowMs })), draft.fillId, fillSeq, draft.userId);
    }
    if (op.journal) {
      if (book.takeDrop(op.journal)) journalsDropped += 1;
      else ledgerQueue.push(op.journal, nowMs);
    }
    return BalanceRegistry.merge(op.engine).length;
  };

  const saturated = (): boolean =>
    publisher.saturated || fillPublisher.saturated || writer.saturated || engineQueue.length >= simulatorLimits.delayedOperationsMax || ledgerQueue.length >= simulatorLimits.delayedOperationsMax;

  const tick = (): void => {
    const now = performance.now();
    const elapsedMs = now - lastTickAt;
    lastTickAt = now;
    const nowMs = Date.now();
    if (!paused) {
      runningMs += elapsedMs;
      budgetEvents = Math.min(budgetEvents + (elapsedMs * rateEventsPerSec) / 1000, Math.max(1, rateEventsPerSec * simulatorLimits.burstSeconds));
      if (saturated()) {
        backpressureTicks += 1;
      } else {
        let generated = 0;
        while (budgetEvents >= 1 && generated < simulatorLimits.tickEventsMax) {
          const events = generateOne(nowMs);
          budgetEvents -= events;
          generated += events;
        }
      }
    }
    releaseDue(nowMs, nowMs);
  };

  const stats = (): SimulatorStats => ({
    failure,
    paused,
    stopped,
    rateEventsPerSec,
    ledgerDelayMs: ledgerQueue.delayMs,
    engineDelayMs: engineQueue.delayMs,
    runningMs: Math.round(runningMs),
    lastSeq: engine.lastSeq,
    engineEventsApplied,
    fillsPublished,
    achievedEventsPerSec: runningMs > 0 ? Math.round((engineEventsApplied * 1000) / runningMs) : 0,
    operations: { ...operations },
    journalsDropped,
    engineQueueDepth: engineQueue.length,
    ledgerQueueDepth: ledgerQueue.length,
    backpressureTicks,
    publisher: publisher.stats(),
    ledger: writer.stats(),
  });

  // A throw here is a bug (a change the registry refuses): stop generating and say so, rather than crash the host process.
  const ticker = setInterval(() => {
    if (failure) return;
    try {
      tick();
    } catch (error) {
      failure = (error as Error).message;
      paused = true;
      log.error({ event: 'sim.tick.failed', err: failure }, 'simulator stopped generating after a bug');
    }
  }, simulatorLimits.tickMs);
  const statsLogger = setInterval(() => log.info({ event: 'sim.stats', ...stats() }, 'simulator stats'), simulatorLimits.statsLogIntervalMs);

  const waitDurable = async (): Promise<void> => {
    await publisher.idle();
    await fillPublisher.idle();
    await writer.idle();
  };

  const pause = async ({ drainDelayed = true }: { drainDelayed?: boolean } = {}): Promise<void> => {
    paused = true;
    budgetEvents = 0;
    // The ticker keeps releasing due items while paused; wait for the queues to run dry.
    while (drainDelayed && !failure && (engineQueue.length > 0 || ledgerQueue.length > 0)) {
      await new Promise((resolve) => setTimeout(resolve, simulatorLimits.tickMs));
    }
    await waitDurable();
  };

  const faults: SimulatorFaults = {
    dropLedgerWrite: (spec) => {
      const handle = book.armDrop(spec);
      log.warn({ event: 'sim.fault.armed', faultId: handle.faultId, kind: handle.kind, ...spec }, 'fault armed');
      return handle;
    },
    doubleApplyTrade: (spec = {}) => {
      const handle = book.armDouble(spec);
      log.warn({ event: 'sim.fault.armed', faultId: handle.faultId, kind: handle.kind, ...spec }, 'fault armed');
      return handle;
    },
    engineOnlyChange: (spec) => {
      const delta: BalanceDelta = { userId: spec.userId, currency: spec.currency, availableDeltaMinor: spec.deltaMinor, lockedDeltaMinor: 0n };
      const problem = generator.planned.problemWith([delta]);
      if (problem) throw new RangeError(`engineOnlyChange: ${problem}`);
      generator.applyExtra([delta]);
      engineQueue.push([delta], Date.now());
      operations.engine_only += 1;
      const handle = book.recordEngineOnly(spec);
      log.warn({ event: 'sim.fault.armed', faultId: handle.faultId, kind: handle.kind, userId: spec.userId, currency: spec.currency, deltaMinor: String(spec.deltaMinor) }, 'fault armed');
      return handle;
    },
    setLedgerDelayMs: (delayMs) => {
      ledgerQueue.delayMs = checkDelayMs(delayMs);
      log.warn({ event: 'sim.fault.ledger_delay', delayMs }, 'ledger delay set');
    },
    setEngineDelayMs: (delayMs) => {
      engineQueue.delayMs = checkDelayMs(delayMs);
      log.warn({ event: 'sim.fault.engine_delay', delayMs }, 'engine delay set');
    },
    reports: () => book.reports(),
    open: () => book.openDiscrepancies(),
    delayed: () => {
      const sum = new Map<string, Discrepancy>();
      const add = (userId: string, currency: string, deltaMinor: bigint): void => {
        if (isHouse(userId)) return;
        const key = `${userId}\u0000${currency}`;
        const seen = sum.get(key);
        if (seen) seen.deltaMinor += deltaMinor;
        else sum.set(key, { userId, currency, deltaMinor });
      };
      // The engine has not applied these yet: engine − ledger is short by their totals.
      for (const deltas of engineQueue.pending()) for (const d of deltas) add(d.userId, d.currency, -(d.availableDeltaMinor + d.lockedDeltaMinor));
      // The ledger has not written these yet: engine − ledger is ahead by them.
      for (const journal of ledgerQueue.pending()) for (const e of journal.entries) add(e.userId, e.currency, e.amountMinor);
      return sortDiscrepancies([...sum.values()]);
    },
  };

  const initialFaults: FaultHandle[] = [];
  if (options.faults?.dropLedgerWrite) initialFaults.push(faults.dropLedgerWrite(options.faults.dropLedgerWrite));
  if (options.faults?.doubleApplyTrade) initialFaults.push(faults.doubleApplyTrade(options.faults.doubleApplyTrade));
  if (options.faults?.engineOnlyChange) initialFaults.push(faults.engineOnlyChange(options.faults.engineOnlyChange));

  log.info(
    { event: 'sim.started', seed: options.seed, rateEventsPerSec, users: userIds.length, currencies, startSeq, runTag, ledgerDelayMs: ledgerQueue.delayMs, engineDelayMs: engineQueue.delayMs },
    'exchange simulator started',
  );

  let stopping: Promise<void> | null = null;
  return {
    userIds,
    currencies,
    runTag,
    initialFaults,
    faults,
    registry: () => engine.registry.rows(),
    lastSeq: () => engine.lastSeq,
    stats,
    setRate: (rate) => {
      rateEventsPerSec = checkRate(rate);
    },
    pause,
    resume: () => {
      if (stopped || failure) throw new Error(`simulator cannot resume: ${failure ?? 'stopped'}`);
      lastTickAt = performance.now();
      paused = false;
    },
    async fix(faultId) {
      const journals = book.fixJournals(faultId);
      await writer.writeNow(journals);
      const report = book.markFixed(faultId);
      log.info({ event: 'sim.fault.fixed', faultId, kind: report.kind, journals: journals.length }, 'fault fixed');
      return report;
    },
    stop() {
      stopping ??= (async () => {
        paused = true;
        clearInterval(ticker);
        clearInterval(statsLogger);
        // Nothing queued is lost on stop: both lagging sides catch up at once.
        releaseDue(Number.POSITIVE_INFINITY, Date.now());
        await waitDurable();
        writer.stop();
        snapshots.unsubscribe();
        commands.unsubscribe();
        stopped = true;
        log.info({ event: 'sim.stopped', ...stats() }, 'exchange simulator stopped');
      })();
      return stopping;
    },
  };
}

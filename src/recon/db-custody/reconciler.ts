import { createBitgoCustodyClient, defaultBitgoClientLimits, type BitgoCustodyClient, type WalletReadResult } from '../../adapters/bitgo/client.js';
import { decimalsOfCoin } from '../../adapters/bitgo/coin-decimals.js';
import { readLedgerBatch } from '../../adapters/ledger/ledger-follower.js';
import { decimalToMinor, minorToDecimal } from '../../config/decimal.js';
import { ensureCustodyStream, ensureReconStream } from '../../nats/topology.js';
import type { Reconciler } from '../reconciler.js';
import { BreakRegistry } from '../breaks/break-registry.js';
import { breakKinds } from '../breaks/break-kinds.js';
import { moneyScale, type BreakActionOutcome, type LiveBreak } from '../breaks/break.js';
import type { OutboxEffect } from '../breaks/outbox.js';
import { ageBucketsOf, type BoundaryStatus } from '../boundary-status.js';
import { durableWrites, type DurableWrites } from '../durable-writes.js';
import { GraceClock } from '../grace-clock.js';
import { reportReconcilerError, type ErrorReportingContext } from '../error-reporting.js';
import { reconLimits } from '../limits.js';
import { writeSealOnce } from '../seal-store.js';
import { SerialQueue } from '../serial-queue.js';
import { noInFlight } from './in-flight.js';
import { outagesOf, type WalletState } from './wallet-state.js';
import { applyLedgerRow, dbCustodyBoundary, loadHoldings, saveCheck, seedHoldings, type LedgerHoldings } from './ledger-holdings.js';
import { readLedgerView } from './ledger-view.js';
import { judgeCurrency, type CurrencyJudgement } from './tolerance.js';
import type { ReconcilerDeps } from '../reconciler-deps.js';
import { dbCustodyDisabledReason, dbCustodyLimitsFrom, type DbCustodyLimits } from './limits.js';
import { custodyCut, type DbCustodySeal } from './seal-record.js';

export interface DbCustodyDeps extends ReconcilerDeps {
  /** Overrides of the limits derived from settings (tests use short ones). */
  limits?: Partial<DbCustodyLimits>;
  /** A custody client other than the SDK's (none in production; the tests use the SDK too). */
  client?: BitgoCustodyClient;
  nowMs?: () => number;
}

/** What `admin.recon.*` needs, plus the seal at cutover and a clean stop. */
export interface DbCustodyReconciler extends Reconciler {
  seal(businessDate: string): Promise<DbCustodySeal>;
  stop(): Promise<void>;
  /** Polls and compares now (outside the schedule); resolves when the round is done. */
  checkNow(): Promise<void>;
}

/** Starts the db_custody reconciler: ledger holdings against BitGo wallet balances, per asset. */
export async function startDbCustodyReconciler(deps: DbCustodyDeps): Promise<DbCustodyReconciler> {
  const reason = dbCustodyDisabledReason(deps.settings);
  if (reason) throw new Error(`db_custody: ${reason}`);
  const seen = new Set<string>();
  for (const w of deps.settings.BITGO_WALLETS) {
    if (seen.has(`${w.coin}:${w.walletId}`)) throw new Error(`db_custody: BITGO_WALLETS lists ${w.coin}:${w.walletId} twice: it would be counted twice`);
    seen.add(`${w.coin}:${w.walletId}`);
    if (decimalsOfCoin(w.coin) === undefined) throw new Error(`db_custody: BITGO_WALLETS: unknown coin "${w.coin}" (wallet ${w.walletId}); add it to src/adapters/bitgo/coin-decimals.ts`);
  }
  const limits = { ...dbCustodyLimitsFrom(deps.settings), ...deps.limits };
  const client = deps.client ?? await createBitgoCustodyClient({
    rootUri: deps.settings.BITGO_ROOT_URI!,
    accessToken: deps.settings.BITGO_ACCESS_TOKEN!,
    requestTimeoutMs: limits.requestTimeoutMs,
    retry: { attemptsMax: limits.retryAttemptsMax, baseDelayMs: limits.retryBaseDelayMs, maxDelayMs: limits.retryMaxDelayMs },
    responseMaxSkewMs: defaultBitgoClientLimits.responseMaxSkewMs,
  });
  const reconciler = new DbCustodyActor(deps, limits, client);
  await reconciler.start();
  return reconciler;
}

/** Each good reading, kept for the close: its custody side is the first poll at or after the cutover (ADR 0015). Fenced like every write of the leader. */
async function recordPollReadings(writes: DurableWrites, readings: Array<{ wallet: string; currency: string; reading: { balanceMinor: bigint; polledAtMs: number } }>): Promise<void> {
  if (readings.length === 0) return;
  await writes.transaction((client) => client.query(
    `INSERT INTO custody_poll_readings (wallet, currency, polled_at, balance)
     SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::numeric[]) ON CONFLICT DO NOTHING`,
    [readings.map((r) => r.wallet), readings.map((r) => r.currency), readings.map((r) => new Date(r.reading.polledAtMs).toISOString()),
      readings.map((r) => minorToDecimal(r.reading.balanceMinor, moneyScale))],
  ));
}

const balanceKind = breakKinds.balance;
const unreachableKind = breakKinds.unreachable;
const errorKind = breakKinds.reconcilerError;
/** One key for the reconciler's own failures (ledger unreadable, a round that threw): resolved by the next good round. */
const errorKey = 'reconciler';


/**
 * The db_custody reconciler actor. A poller reads every configured BitGo wallet (outside the
 * actor: network waits never block it) and hands the readings to the actor as one message;
 * the actor catches the ledger up to a watermark, compares per asset within the tolerance,
 * raises or resolves breaks, pauses or resumes the asset's withdrawals, and saves the round.
 * Every change to its state goes through one serial queue.
 */
class DbCustodyActor implements DbCustodyReconciler {
  readonly boundary = dbCustodyBoundary;
  private readonly queue = new SerialQueue(reconLimits.dbCustodyQueueDepthMax);
  private readonly breaks: BreakRegistry;
  private readonly writes: DurableWrites;
  private readonly errors: ErrorReportingContext;
  private readonly nowMs: () => number;
  private readonly wallets: WalletState[];
  private readonly currencies: string[];
  private readonly tolerancesMinor = new Map<string, bigint>();
  private holdings: LedgerHoldings = { watermark: { txId: 0n, id: 0n }, rowsRead: 0n, heldMinor: new Map() };
  private readonly graceClock = new GraceClock();
  private readonly lastJudgements = new Map<string, CurrencyJudgement | null>();
  private readonly abort = new AbortController();
  private lastDeltaAtMs: number | null = null;
  private lastPolledAtMs: number | null = null;
  private lastLedgerSnapshot: string | null = null;
  private lastLedgerHeld = new Map<string, bigint>();
  private failedRounds = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly running = new Set<Promise<void>>();
  private stopped = false;
  private readonly counters = {
    polls: 0, pollsFailed: 0, walletReadsFailed: 0, ledgerRowsRead: 0, ledgerRowsReadSinceStart: 0,
    checks: 0, inFlightStaleRows: 0, ledgerTailRows: 0,
  };

  constructor(private readonly deps: DbCustodyDeps, private readonly limits: DbCustodyLimits, private readonly client: BitgoCustodyClient) {
    this.nowMs = deps.nowMs ?? Date.now;
    this.wallets = deps.settings.BITGO_WALLETS.map((ref) => ({ ref, key: `${ref.coin}:${ref.walletId}`, last: null, fresh: false, failingSinceMs: null, lastError: null }));
    this.currencies = [...new Set(deps.settings.BITGO_WALLETS.map((w) => w.currency))].sort();
    for (const currency of this.currencies) {
      this.tolerancesMinor.set(currency, decimalToMinor(deps.settings.CUSTODY_TOLERANCES[currency] ?? '0', moneyScale));
    }
    this.writes = durableWrites(deps.pool, deps.fence);
    this.breaks = new BreakRegistry({
      boundary: dbCustodyBoundary,
      pool: deps.pool,
      js: deps.js,
      names: deps.names,
      log: deps.log,
      writes: this.writes,
      effectsOnRaised: (live) => this.withdrawalsEffects('paused', live),
      effectsOnResolved: (live) => this.withdrawalsEffects('resumed', live),
      onWriteFailed: (error) => this.reportError('outbox', error),
    });
    this.errors = {
      boundary: dbCustodyBoundary, log: deps.log, breaks: this.breaks, key: errorKey, nowMs: this.nowMs,
      ...(deps.onFenced ? { onFenced: deps.onFenced } : {}),
    };
  }

  async start(): Promise<void> {
    const { deps } = this;
    await ensureReconStream(deps.jsm, deps.names);
    await ensureCustodyStream(deps.jsm, deps.names);
    await this.breaks.load();
    this.holdings = (await loadHoldings(deps.pool)) ?? (await seedHoldings(deps.pool));
    // A pause or resume a crash interrupted is still in the outbox: re-driven from here on.
    this.breaks.startEffects();
    deps.log.info({
      event: 'recon.started', boundary: dbCustodyBoundary, wallets: this.wallets.map((w) => w.key), currencies: this.currencies,
      ledger: { txId: this.holdings.watermark.txId.toString(), id: this.holdings.watermark.id.toString() }, pollMs: this.limits.pollMs,
    }, 'db_custody reconciler started');
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([...this.running]);
    await this.breaks.stopEffects();
  }

  status(): BoundaryStatus {
    const live = this.breaks.list();
    const paused = live.filter((b) => b.kind === balanceKind && b.currency).map((b) => b.currency).sort();
    return {
      name: dbCustodyBoundary,
      enabled: true,
      lastDeltaAt: this.lastDeltaAtMs === null ? null : new Date(this.lastDeltaAtMs).toISOString(),
      openBreaks: this.breaks.openCount,
      ageBuckets: ageBucketsOf(live.filter((b) => b.status !== 'accepted'), this.nowMs()),
      watermarks: {
        custodyPolledAt: this.lastPolledAtMs === null ? '' : new Date(this.lastPolledAtMs).toISOString(),
        ledgerTxId: this.holdings.watermark.txId.toString(),
        ledgerId: this.holdings.watermark.id.toString(),
        withdrawalsPaused: paused.join(','),
      },
      counters: { ...this.counters, effectsPending: this.breaks.effectsPending, consecutiveFailedPolls: this.failedRounds, bitgoRequests: this.client.stats.requests },
    };
  }

  liveBreaks(): LiveBreak[] {
    return this.breaks.list();
  }

  act(breakId: string, action: 'acknowledge' | 'accept', actorId: string, reason: string | null): Promise<BreakActionOutcome> {
    return this.queue.run(() => this.breaks.act(breakId, action, actorId, reason));
  }

  async checkNow(): Promise<void> {
    await this.round();
  }

  /**
   * The cut at a cutover: a fresh poll and the ledger caught up to a watermark, compared, then
   * written once per business date (a second call returns the first seal). Costs O(wallets).
   */
  async seal(businessDate: string): Promise<DbCustodySeal> {
    const readings = await this.pollWallets();
    return this.queue.run(async () => {
      await this.applyRound(readings);
      const { cut, digest } = custodyCut({ wallets: this.wallets, currencies: this.currencies, holdings: this.holdings, lastLedgerHeld: this.lastLedgerHeld, lastJudgements: this.lastJudgements, lastLedgerSnapshot: this.lastLedgerSnapshot });
      const openBreaks = this.breaks.list();
      return writeSealOnce(this.writes, { boundary: dbCustodyBoundary, businessDate, cut, digest, openBreaks });
    });
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.round().finally(() => {
        // Backs off while BitGo fails: pollMs·2^n, capped; back to pollMs at the first good round.
        const delay = this.failedRounds === 0 ? this.limits.pollMs : Math.min(this.limits.backoffMaxMs, this.limits.pollMs * 2 ** this.failedRounds);
        this.schedule(delay);
      });
    }, delayMs);
  }

  /** One round: poll (outside the actor), then apply (inside). Never throws. */
  private round(): Promise<void> {
    const run = (async () => {
      try {
        const readings = await this.pollWallets();
        if (this.stopped) return;
        await this.queue.run(() => this.applyRound(readings));
      } catch (error) {
        this.reportError('round', error);
      }
    })();
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
    return run;
  }

  private async pollWallets(): Promise<Map<string, WalletReadResult>> {
    const results = new Map<string, WalletReadResult>();
    const max = Math.max(1, this.limits.walletsInParallelMax);
    for (let i = 0; i < this.wallets.length; i += max) {
      const slice = this.wallets.slice(i, i + max);
      const read = await Promise.all(slice.map((w) => this.client.readWallet({ coin: w.ref.coin, walletId: w.ref.walletId }, this.abort.signal)));
      slice.forEach((w, j) => results.set(w.key, read[j]!));
    }
    return results;
  }

  private async applyRound(readings: Map<string, WalletReadResult>): Promise<void> {
    const nowMs = this.nowMs();
    this.counters.polls++;
    let anyFailed = false;
    for (const w of this.wallets) {
      const result = readings.get(w.key);
      if (!result) continue;
      // Rounds may overlap (a seal or checkNow beside the schedule): never step back in time.
      if (result.ok && w.last && result.reading.polledAtMs < w.last.polledAtMs) continue;
      if (result.ok) {
        w.last = result.reading;
        w.fresh = true;
        w.failingSinceMs = null;
        w.lastError = null;
        this.lastPolledAtMs = result.reading.polledAtMs;
        this.lastDeltaAtMs = nowMs;
      } else {
        anyFailed = true;
        w.fresh = false;
        w.failingSinceMs ??= nowMs;
        w.lastError = result.error;
        this.counters.walletReadsFailed++;
        this.deps.log.warn({ event: 'custody.read_failed', wallet: w.key, code: result.error.code, status: result.error.status, attempts: result.attempts, err: result.error.message }, 'BitGo wallet read failed');
      }
    }
    if (anyFailed) {
      this.counters.pollsFailed++;
      this.failedRounds++;
    } else {
      this.failedRounds = 0;
    }
    await this.judgeReachability(nowMs);
    await recordPollReadings(this.writes, this.wallets.flatMap((w) => {
      const result = readings.get(w.key);
      return result?.ok ? [{ wallet: w.key, currency: w.ref.currency, reading: result.reading }] : [];
    }));

    await this.catchUpLedger();
    const judged = await this.judgeCurrencies(nowMs);
    await this.breaks.touchAll();
    await saveCheck(this.writes, this.holdings, {
      polledAtMs: this.lastPolledAtMs ?? 0,
      currenciesCompared: judged.compared,
      currenciesAgreeing: judged.agreeing,
      currenciesInFlight: judged.inFlight,
      breaksOpen: this.breaks.openCount,
    });
    this.counters.checks++;
    await this.breaks.resolve(errorKind, errorKey);
  }

  /**
   * Moves the running totals forward (the follower's rows below the snapshot horizon), so the
   * tail each comparison adds stays short; true when caught up (the last batch was not full).
   */
  private async catchUpLedger(): Promise<boolean> {
    for (let batchNo = 0; batchNo < this.limits.ledgerBatchesPerRoundMax; batchNo++) {
      const batch = await readLedgerBatch(this.deps.pool, this.holdings.watermark, this.limits.ledgerBatchRowsMax);
      let moved = false;
      for (const row of batch.rows) moved = applyLedgerRow(this.holdings, row) || moved;
      this.holdings.watermark = batch.next;
      this.counters.ledgerRowsRead += batch.rows.length;
      this.counters.ledgerRowsReadSinceStart += batch.rows.length;
      if (moved) this.lastDeltaAtMs = this.nowMs();
      if (batch.rows.length < this.limits.ledgerBatchRowsMax) return true;
    }
    return false;
  }

  /**
   * Per asset whose every wallet was read in this round: ledger against custody within the
   * tolerance. An asset with a wallet that could not be read is not judged at all (its grace
   * clock restarts): an outage is an `unreachable` alert, never a balance break.
   */
  private async judgeCurrencies(nowMs: number): Promise<{ compared: number; agreeing: number; inFlight: number }> {
    const view = await readLedgerView(this.deps.pool, this.holdings, this.currencies, this.limits.inFlightMaxAgeMs);
    this.lastLedgerSnapshot = view.snapshot;
    this.lastLedgerHeld = view.heldMinor;
    this.counters.ledgerTailRows = view.tailRows;
    let compared = 0;
    let agreeing = 0;
    let inFlightCount = 0;
    let staleRows = 0;
    for (const currency of this.currencies) {
      const wallets = this.wallets.filter((w) => w.ref.currency === currency);
      if (!wallets.every((w) => w.fresh && w.last)) {
        this.graceClock.reset(currency);
        this.lastJudgements.set(currency, null);
        continue;
      }
      const custodyMinor = wallets.reduce((sum, w) => sum + (w.last?.balanceMinor ?? 0n), 0n);
      const unconfirmedMinor = wallets.reduce((sum, w) => sum + ((w.last?.balanceMinor ?? 0n) - (w.last?.confirmedMinor ?? 0n)), 0n);
      const flight = view.inFlight.get(currency) ?? noInFlight;
      staleRows += flight.staleRows;
      const judgement = judgeCurrency(
        currency,
        view.heldMinor.get(currency) ?? 0n,
        custodyMinor,
        { absoluteMinor: this.tolerancesMinor.get(currency) ?? 0n, floatMinor: view.floatsMinor.get(currency) ?? 0n, inFlightDepositsMinor: flight.depositsMinor, inFlightWithdrawalsMinor: flight.withdrawalsMinor },
        { unbookedGasMinor: flight.unbookedGasMinor, undistributedRewardsMinor: flight.undistributedRewardsMinor, custodianUnconfirmedMinor: unconfirmedMinor },
      );
      this.lastJudgements.set(currency, judgement);
      compared++;
      const verdict = judgement.verdict;
      if (verdict.state !== 'beyond') {
        if (verdict.state === 'agree') agreeing++;
        else inFlightCount++;
        this.graceClock.reset(currency);
        // Within the tolerance: the resolution carries both sides as they stand (their delta is within it).
        await this.breaks.resolve(balanceKind, currency, { leftMinor: judgement.ledgerMinor, rightMinor: judgement.custodyMinor });
        continue;
      }
      const since = this.graceClock.observe(currency, true, nowMs) ?? nowMs;
      if (nowMs - since >= this.limits.graceMs) {
        await this.breaks.raise(
          { kind: balanceKind, key: currency, currency, leftMinor: judgement.ledgerMinor, rightMinor: judgement.custodyMinor, detail: verdict.detail },
          since,
        );
      }
    }
    this.counters.inFlightStaleRows = staleRows;
    return { compared, agreeing, inFlight: inFlightCount };
  }

  /**
   * `unreachable` breaks: keyed 'bitgo' when no wallet could be read, else per wallet
   * (`<coin>:<walletId>`); raised once an outage outlives the grace window, resolved by the
   * first good read.
   */
  private async judgeReachability(nowMs: number): Promise<void> {
    const wanted = outagesOf(this.wallets, nowMs);
    for (const live of this.breaks.list()) {
      if (live.kind === unreachableKind && !wanted.has(live.key)) await this.breaks.resolve(unreachableKind, live.key);
    }
    for (const [key, outage] of wanted) {
      if (nowMs - outage.sinceMs >= this.limits.graceMs) await this.breaks.raise({ kind: unreachableKind, key, detail: outage.detail }, outage.sinceMs);
    }
  }


  /**
   * A balance break pauses the asset's withdrawals; its resolution resumes them. Recorded in
   * the outbox with the break's change and published with the break id in the Nats-Msg-Id,
   * so a retry (or a restart) never doubles one and a crash never loses one (ADR 0020).
   */
  private withdrawalsEffects(action: 'paused' | 'resumed', live: LiveBreak): OutboxEffect[] {
    if (live.kind !== balanceKind || !live.currency) return [];
    const subject = action === 'paused'
      ? this.deps.names.custodyWithdrawalsPausedSubject(live.currency)
      : this.deps.names.custodyWithdrawalsResumedSubject(live.currency);
    const payload = {
      asset: live.currency,
      action,
      breakId: live.id,
      boundary: dbCustodyBoundary,
      reason: action === 'paused' ? 'recon_break_db_custody' : 'recon_resolved_db_custody',
      ledger: live.left,
      custody: live.right,
      delta: live.delta,
      detail: live.detail,
      at: new Date(this.nowMs()).toISOString(),
    };
    return [{ effect: 'publish', subject, payload, msgId: `custody-withdrawals-${action}:${live.id}` }];
  }

  private reportError(where: string, error: unknown): void {
    if (this.stopped) {
      this.deps.log.error({ event: 'recon.error', boundary: dbCustodyBoundary, where, err: (error as Error).message }, 'reconciler error while stopping');
      return;
    }
    reportReconcilerError(this.errors, where, error);
  }
}

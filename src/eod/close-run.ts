import type { JetStreamClient } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Settings } from '../config/settings.js';
import type { Pool } from '../db/pool.js';
import type { NatsNames } from '../nats/names.js';
import type { Logger } from '../observability/logger.js';
import { eodStepDuration } from '../observability/metrics.js';
import { FencedError, withFencedTransaction, type Fence } from '../supervisor/fence.js';
import { addDays, businessDateOf, businessWindow, isBusinessDate, type Cutover } from './business-date.js';
import { ledgerRowsInWindow } from './cut-balances.js';
import { syncFailureBreaks, type FailureBreakChanges } from './failure-breaks.js';
import { assembleReport, stepOutputOf } from './report-assembly.js';
import { writeReportFiles, type ReportHtmlRenderer, type SealedReportDocument } from './report-files.js';
import { pruneCloseInputs } from './history-retention.js';
import { saltSeedOf, type ReportSigner } from './report-signing.js';
import { markCompleted, markFailed, markRunning, markSkipped, readStepRows, type StepRow, type StepStatus } from './run-store.js';
import { EodStepFailure, type EodStep, type EodStepContext } from './steps/step.js';

/** A request the close refuses before writing anything: `field` names what is wrong. */
export class EodInputError extends Error {
  constructor(readonly code: 'INVALID_REQUEST' | 'NOT_FOUND' | 'CONFLICT', readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'EodInputError';
  }
}

/** The steps that computed from the ledger at the cut (re-done when the ledger moved under the close). */
const cutReadingSteps = ['balance_snapshot', 'recon_me_db', 'recon_db_custody'];

export type RunStatus = 'pending' | 'running' | 'failed' | 'sealed';

export interface RunState {
  date: string;
  status: RunStatus;
  steps: Array<{ name: string; status: StepStatus; attempts: number; startedAt: string | null; endedAt: string | null; error?: string }>;
}

export interface EodCloseDeps {
  pool: Pool;
  nc: NatsConnection;
  js: JetStreamClient;
  names: NatsNames;
  log: Logger;
  settings: Settings;
  /** The report signer, loaded when the first close needs it (an engine that never closes needs no key). */
  signer(): ReportSigner;
  steps: readonly EodStep[];
  /** The fence of the current leader term, or null when this instance does not lead. */
  fence(): Fence | null;
  engineCaughtUp(): Promise<boolean>;
  /** The JetStream object store of sealed reports: `<date>.json` and `<date>.html`. */
  reportsStore: ObjectStore;
  renderHtml: ReportHtmlRenderer;
  /**
   * The close recorded or resolved breaks of `boundary` (a step's failure breaks, ADR 0029): its
   * running reconciler takes them into its live set and drains their alerts. Absent, or the
   * boundary not running: they wait in the outbox for the leader's drainer of that channel.
   */
  breaksRecorded?(boundary: string): Promise<void>;
  nowMs?: () => number;
}

/**
 * The close of one business date (docs/contract.md §9, ADR 0016): its steps in order, each keyed on
 * (date, step) in `eod_runs`, each write in a transaction fenced by the lease term the run
 * started under; then the report, sealed and chained to the previous date's. A re-run skips
 * what completed and re-does what failed; a sealed date is never written again.
 */
export class EodClose {
  private readonly runs = new Map<string, Promise<RunState>>();
  private readonly nowMs: () => number;
  readonly cutover: Cutover;

  constructor(private readonly deps: EodCloseDeps) {
    this.nowMs = deps.nowMs ?? Date.now;
    this.cutover = { time: deps.settings.EOD_CUTOVER_TIME, zone: deps.settings.EOD_TIMEZONE };
  }

  /**
   * Runs (or joins the run of) `date`, any day that has ended. The reports are chained, so the
   * days before it from the first ledger row on that are not sealed yet are closed first, in
   * order (as the scheduler would). Throws EodInputError for a date that cannot be closed,
   * before writing anything, and CONFLICT when an earlier day did not seal.
   */
  run(date: string): Promise<RunState> {
    return this.once(date, () => this.execute(date));
  }

  /** One run of `date` at a time in this instance: a second request joins the first. */
  private once(date: string, run: () => Promise<RunState>): Promise<RunState> {
    let running = this.runs.get(date);
    if (!running) {
      running = run().finally(() => this.runs.delete(date));
      this.runs.set(date, running);
    }
    return running;
  }

  isRunning(date: string): boolean {
    return this.runs.has(date);
  }

  state(date: string): Promise<RunState> {
    return this.stateOf(date, this.runs.has(date));
  }

  private async stateOf(date: string, inFlight: boolean): Promise<RunState> {
    this.assertDateShape(date);
    const rows = await readStepRows(this.deps.pool, date);
    const sealed = await this.sealedSha(date);
    const steps = this.deps.steps.map((s) => {
      const row = rows.get(s.name);
      return {
        name: s.name, status: row?.status ?? 'pending', attempts: row?.attempts ?? 0, startedAt: row?.startedAt ?? null, endedAt: row?.endedAt ?? null,
        ...(row?.error ? { error: row.error } : {}),
      };
    });
    const status: RunStatus = sealed ? 'sealed'
      : steps.some((s) => s.status === 'running') || inFlight ? 'running'
        : steps.some((s) => s.status === 'failed') ? 'failed' : 'pending';
    return { date, status, steps };
  }

  async report(date: string): Promise<SealedReportDocument> {
    this.assertDateShape(date);
    const result = await this.deps.pool.query<{ sha256: string; prev_sha256: string | null; signature: string; public_key: string; report: unknown }>(
      'SELECT sha256, prev_sha256, signature, public_key, report FROM eod_reports WHERE business_date = $1', [date]);
    const row = result.rows[0];
    if (!row) throw new EodInputError('NOT_FOUND', 'date', `${date} is not sealed`);
    return { date, sha256: row.sha256, prevSha256: row.prev_sha256, signature: row.signature, publicKey: row.public_key, report: row.report };
  }

  /** The first business date with data: that of the earliest ledger row (null with an empty ledger). */
  async firstBusinessDate(): Promise<string | null> {
    const result = await this.deps.pool.query<{ first: Date | null }>('SELECT min(created_at) AS first FROM ledger_entries');
    const first = result.rows[0]?.first;
    return first ? businessDateOf(first.getTime(), this.cutover) : null;
  }

  /** The latest sealed date, or null. */
  async lastSealedDate(): Promise<string | null> {
    const result = await this.deps.pool.query<{ last: string | null }>("SELECT to_char(max(business_date), 'YYYY-MM-DD') AS last FROM eod_reports");
    return result.rows[0]?.last ?? null;
  }

  /** Refuses a date that cannot be closed now; nothing is written. */
  async validate(date: string): Promise<void> {
    this.assertDateShape(date);
    const window = businessWindow(date, this.cutover);
    if (window.endMs > this.nowMs()) {
      throw new EodInputError('INVALID_REQUEST', 'date', `${date} has not ended (it ends at ${new Date(window.endMs).toISOString()}, cutover ${this.cutover.time} ${this.cutover.zone})`);
    }
  }

  /** The days from the first ledger row up to `date` (excluded) that are not sealed, in order. */
  private async unsealedBefore(date: string): Promise<string[]> {
    const first = await this.firstBusinessDate();
    if (first === null || first >= date) return [];
    const sealed = await this.deps.pool.query<{ date: string }>(
      "SELECT to_char(business_date, 'YYYY-MM-DD') AS date FROM eod_reports WHERE business_date >= $1 AND business_date < $2", [first, date]);
    const done = new Set(sealed.rows.map((r) => r.date));
    const missing: string[] = [];
    for (let day = first; day < date; day = addDays(day, 1)) if (!done.has(day)) missing.push(day);
    return missing;
  }

  private assertDateShape(date: string): void {
    if (!isBusinessDate(date)) throw new EodInputError('INVALID_REQUEST', 'date', `expected a calendar date YYYY-MM-DD, got ${JSON.stringify(date)}`);
  }

  private async sealedSha(date: string): Promise<string | null> {
    const result = await this.deps.pool.query<{ sha256: string }>('SELECT sha256 FROM eod_reports WHERE business_date = $1', [date]);
    return result.rows[0]?.sha256 ?? null;
  }

  private async execute(date: string): Promise<RunState> {
    await this.validate(date);
    this.leaderFence();
    this.deps.signer(); // a missing or unreadable key stops the run before anything is written
    // The chain: every earlier day with data is sealed before this one (joining a run already going).
    // A sealed date only finishes its publication (closeOne): it closes no other day.
    const earlier = (await this.sealedSha(date)) ? [] : await this.unsealedBefore(date);
    if (earlier.length > 0) this.deps.log.info({ event: 'eod.run.earlier_days', date, days: earlier.length, from: earlier[0], to: earlier.at(-1) }, `closing ${earlier.length} earlier unsealed day(s) first: the reports are chained`);
    for (const day of earlier) {
      const state = await this.once(day, () => this.closeOne(day));
      if (state.status !== 'sealed') {
        throw new EodInputError('CONFLICT', 'date', `${day}, an earlier business date, did not seal (${state.status}); ${date} waits for it (the reports are chained): see recon eod status ${day}, then run ${date} again`);
      }
    }
    return this.closeOne(date);
  }

  /** The current leader term's fence: the close runs only on the leader. */
  private leaderFence(): Fence {
    const fence = this.deps.fence();
    if (!fence) throw new Error('this instance does not lead: the close runs on the leader');
    return fence;
  }

  /** Closes `date`, whose earlier days are sealed (or before the first ledger row); a sealed one only finishes its publication. */
  private async closeOne(date: string): Promise<RunState> {
    const fence = this.leaderFence();
    if (await this.sealedSha(date)) {
      await this.publish(date, fence);
      return this.stateOf(date, false);
    }
    // Chained to the previous date's report; null for the first (a previous date with data is sealed by now).
    const previous = addDays(date, -1);
    const prevSha256 = await this.sealedSha(previous);
    const previousSealedDate = prevSha256 === null ? null : previous;
    const window = businessWindow(date, this.cutover);
    const { log, settings } = this.deps;
    log.info({ event: 'eod.run.started', date, fence: fence.token }, `closing ${date}`);
    const shared = new Map<string, Promise<unknown>>();
    let anyFailed = false;
    const rows = await readStepRows(this.deps.pool, date);
    for (const step of this.deps.steps) {
      if (rows.get(step.name)?.status === 'completed') continue;
      const reason = step.skipReason(settings);
      if (reason !== null) {
        await withFencedTransaction(this.deps.pool, fence, (client) => markSkipped(client, date, step.name, reason, fence));
        // Every step ends with eod.<step>.completed or .failed (docs/contract.md §9): a skipped step
        // completed without running, and says so. Announced on every pass (a crash after the mark
        // must not lose it); the Nats-Msg-Id drops repeats, and is its own so a later real completion is not taken for one.
        await this.announce(this.deps.names.eodStepSubject(step.name, 'completed'), { date, step: step.name, status: 'skipped', reason }, `eod:${date}:${step.name}:skipped`);
        continue;
      }
      const outcome = await this.runStep(step, { date, window, previousSealedDate, fence, shared });
      if (outcome === 'failed') anyFailed = true;
    }
    if (anyFailed) {
      log.warn({ event: 'eod.run.failed', date }, `the close of ${date} failed; a re-run re-does the failed steps`);
      return this.stateOf(date, false);
    }
    const finalRows = await readStepRows(this.deps.pool, date);
    const report = assembleReport({ date, prevSha256, window, cutover: this.cutover, stepNames: this.deps.steps.map((s) => s.name), rows: finalRows });
    const seal = this.deps.signer().seal(report);
    const rowsAtCut = (stepOutputOf(finalRows.get('balance_snapshot'))?.figures.ledgerRowsInWindow ?? null) as number | null;
    const moved = await withFencedTransaction(this.deps.pool, fence, async (client) => {
      // No ledger writer may be half-way while the day is sealed: after this lock every insert
      // either committed before (and is counted below) or sees the sealed day (and is refused).
      await client.query('LOCK TABLE ledger_entries IN SHARE MODE');
      const rowsNow = await ledgerRowsInWindow(client, window);
      if (rowsAtCut !== null && rowsNow !== rowsAtCut) return { rowsAtCut, rowsNow };
      await client.query(
        `INSERT INTO eod_reports (business_date, sha256, prev_sha256, signature, public_key, report) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (business_date) DO NOTHING`,
        [date, seal.sha256, prevSha256, seal.signature, seal.publicKey, JSON.stringify(report)]);
      await client.query(
        'INSERT INTO eod_sealed_days (business_date, window_start, window_end) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [date, new Date(window.startMs).toISOString(), new Date(window.endMs).toISOString()]);
      return null;
    });
    if (moved) {
      await this.discardCut(date, fence, `the ledger of ${date} changed after the cut was taken (${moved.rowsAtCut} rows dated inside the day then, ${moved.rowsNow} now): the steps that read it are re-done by the next run`);
      return this.stateOf(date, false);
    }
    log.info({ event: 'eod.run.sealed', date, sha256: seal.sha256 }, `sealed ${date}`);
    await this.publish(date, fence);
    await pruneCloseInputs(this.deps.pool, fence, window.endMs, settings.EOD_HISTORY_RETENTION_DAYS, log)
      .catch((error: unknown) => log.warn({ event: 'eod.retention.failed', date, err: (error as Error).message }, 'pruning old close inputs failed; tried again after the next seal'));
    return this.stateOf(date, false);
  }

  private async runStep(step: EodStep, run: { date: string; window: ReturnType<typeof businessWindow>; previousSealedDate: string | null; fence: Fence; shared: Map<string, Promise<unknown>> }): Promise<'completed' | 'failed'> {
    const { pool, log, settings, names, js } = this.deps;
    const { date, fence } = run;
    const attempt = await withFencedTransaction(pool, fence, (client) => markRunning(client, date, step.name, fence));
    if (attempt === null) return 'completed';
    const controller = new AbortController();
    const timeoutMs = settings.EOD_STEP_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new EodStepFailure(`timed out after ${timeoutMs} ms (EOD_STEP_TIMEOUT_MS)`));
      }, timeoutMs);
    });
    const context: EodStepContext = {
      date, window: run.window, previousSealedDate: run.previousSealedDate, pool, nc: this.deps.nc, settings, log, signal: controller.signal,
      saltSeed: (currency) => saltSeedOf(this.deps.signer().saltSecret, date, currency),
      engineCaughtUp: () => this.deps.engineCaughtUp(),
      shared: <T>(key: string, compute: () => Promise<T>): Promise<T> => {
        let value = run.shared.get(key) as Promise<T> | undefined;
        if (!value) {
          value = compute();
          run.shared.set(key, value);
          value.catch(() => run.shared.delete(key));
        }
        return value;
      },
    };
    const startedMs = performance.now();
    const stepSeconds = (): number => (performance.now() - startedMs) / 1000;
    try {
      const result = await Promise.race([this.delayed(controller.signal).then(() => step.run(context)), timedOut]);
      const computedMs = performance.now();
      const breakChanges = await withFencedTransaction(pool, fence, async (client) => {
        if (controller.signal.aborted) throw new EodStepFailure(`timed out after ${timeoutMs} ms (EOD_STEP_TIMEOUT_MS)`);
        await result.write?.(client);
        await markCompleted(client, date, step.name, { figures: result.figures, breaks: result.breaks ?? [] });
        // Passed: none of the breaks an earlier attempt failed on is found at the cut any more.
        return step.failureBreaks ? syncFailureBreaks(client, names, fence.token, date, step.failureBreaks, [], this.nowMs()) : null;
      });
      clearTimeout(timer);
      await this.afterBreakChanges(step, date, breakChanges);
      eodStepDuration.observe({ step: step.name, outcome: 'completed' }, stepSeconds());
      log.info({ event: `eod.${step.name}.completed`, date, attempt, computeMs: Math.round(computedMs - startedMs), writeMs: Math.round(performance.now() - computedMs) }, `${step.name} completed`);
      await this.announce(names.eodStepSubject(step.name, 'completed'), { date, step: step.name }, `eod:${date}:${step.name}:completed`);
      return 'completed';
    } catch (error) {
      clearTimeout(timer);
      controller.abort();
      // Deposed: another instance leads now; it finishes the run. Nothing is marked here.
      if (error instanceof FencedError) {
        log.error({ event: 'eod.fenced', date, step: step.name, err: error.message }, 'the close stopped: write refused by the fence');
        throw error;
      }
      const message = error instanceof Error ? error.message : String(error);
      eodStepDuration.observe({ step: step.name, outcome: 'failed' }, stepSeconds());
      log.error({ event: `eod.${step.name}.failed`, date, attempt, err: message }, `${step.name} failed`);
      const found = error instanceof EodStepFailure ? error.breaks : undefined;
      const breakChanges = await withFencedTransaction(pool, fence, async (client) => {
        await markFailed(client, date, step.name, message);
        // The breaks the step failed on, recorded with the failure: one per (date, user, currency) however often it is re-run.
        return step.failureBreaks && found ? syncFailureBreaks(client, names, fence.token, date, step.failureBreaks, found, this.nowMs()) : null;
      });
      await this.afterBreakChanges(step, date, breakChanges);
      await this.announce(names.eodStepSubject(step.name, 'failed'), { date, step: step.name, attempt, error: message }, `eod:${date}:${step.name}:failed:${attempt}`);
      return 'failed';
    }
  }

  /** After the commit: logged, and handed to the boundary's reconciler to list and page (its outbox drainer carries the alerts out). */
  private async afterBreakChanges(step: EodStep, date: string, changes: FailureBreakChanges | null): Promise<void> {
    if (!changes || !step.failureBreaks || changes.raised.length + changes.resolved.length + changes.refreshed === 0) return;
    const { log } = this.deps;
    for (const b of changes.raised) log.warn({ event: 'eod.break_raised', date, step: step.name, boundary: b.boundary, breakId: b.id, kind: b.kind, key: b.key, left: b.left, right: b.right }, `${step.name}: break recorded`);
    for (const b of changes.resolved) log.info({ event: 'eod.break_resolved', date, step: step.name, boundary: b.boundary, breakId: b.id, kind: b.kind, key: b.key }, `${step.name}: break no longer found at the cut`);
    const boundary = step.failureBreaks.boundary;
    await this.deps.breaksRecorded?.(boundary).catch((error: unknown) =>
      log.error({ event: 'eod.breaks_handover_failed', date, boundary, err: (error as Error).message }, 'the boundary did not take the recorded breaks in yet; their alerts wait in the outbox for its drainer'));
  }

  /** A day whose ledger moved under the close: the steps computed from the cut are failed and their rows removed, so a re-run recomputes them. */
  private async discardCut(date: string, fence: Fence, reason: string): Promise<void> {
    this.deps.log.error({ event: 'eod.cut_moved', date, reason }, reason);
    await withFencedTransaction(this.deps.pool, fence, async (client) => {
      for (const table of ['user_balance_snapshots', 'eod_ledger_balances', 'proof_of_reserves']) {
        await client.query(`DELETE FROM ${table} WHERE business_date = $1`, [date]);
      }
      await client.query(
        `UPDATE eod_runs SET status = 'failed', error = $2, ended_at = clock_timestamp() WHERE business_date = $1 AND status = 'completed' AND step = ANY($3::text[])`,
        [date, reason, cutReadingSteps]);
    });
  }

  /** EOD_STEP_DELAY_MS: a slow step for tests and demos (a leader to kill mid-step). */
  private delayed(signal: AbortSignal): Promise<void> {
    const ms = this.deps.settings.EOD_STEP_DELAY_MS;
    if (ms === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }

  /**
   * After the seal commits: the report into the object store and the reports directory, then
   * `eod.sealed` (Nats-Msg-Id per date). Repeated until published_at is set, so a crash between
   * the seal and here is finished by the next run; a sealed, published date writes nothing.
   */
  private async publish(date: string, fence: Fence): Promise<void> {
    const published = await this.deps.pool.query<{ published_at: Date | null }>('SELECT published_at FROM eod_reports WHERE business_date = $1', [date]);
    if (published.rows[0]?.published_at) return;
    const doc = await this.report(date);
    const encoder = new TextEncoder();
    await this.deps.reportsStore.putBlob({ name: `${date}.json` }, encoder.encode(JSON.stringify(doc)));
    await this.deps.reportsStore.putBlob({ name: `${date}.html` }, encoder.encode(this.deps.renderHtml(doc)));
    const files = await writeReportFiles(this.deps.settings.EOD_REPORTS_DIR, doc, this.deps.renderHtml);
    await this.announce(this.deps.names.eodSealedSubject, { date, sha256: doc.sha256 }, `eod:${date}:sealed`);
    await withFencedTransaction(this.deps.pool, fence, (client) =>
      client.query('UPDATE eod_reports SET published_at = now() WHERE business_date = $1 AND published_at IS NULL', [date]));
    this.deps.log.info({ event: 'eod.report.written', date, sha256: doc.sha256, json: files.json, html: files.html }, `report of ${date} written`);
  }

  private async announce(subject: string, body: Record<string, unknown>, msgID: string): Promise<void> {
    try {
      await this.deps.js.publish(subject, JSON.stringify(body), { msgID });
    } catch (error) {
      this.deps.log.error({ event: 'eod.publish_failed', subject, err: (error as Error).message }, 'could not publish an EOD event');
    }
  }
}

export type { StepRow };

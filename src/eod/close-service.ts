import path from 'node:path';
import { Objm } from '@nats-io/obj';
import type { Settings } from '../config/settings.js';
import { consumerAckFloor } from '../nats/durable-consumer.js';
import type { ServiceContext } from '../runtime/service-context.js';
import type { Fence } from '../supervisor/fence.js';
import { addDays, lastClosedDate } from './business-date.js';
import { EodClose, type RunState } from './close-run.js';
import { ProofService } from './proof-service.js';
import { renderReportHtml } from './report/index.js';
import type { ReportHtmlRenderer } from './report-files.js';
import { loadReportSigner, type ReportSigner } from './report-signing.js';
import { eodStepRegistry } from './steps/registry.js';
import type { EodStep } from './steps/step.js';

export interface EodServiceDeps extends ServiceContext {
  fence(): Fence | null;
  /** Test-only: steps that replace the registry's of the same name. */
  stepOverrides?: readonly EodStep[];
  renderHtml?: ReportHtmlRenderer;
  /** A step's failure breaks were recorded for `boundary`: its running reconciler takes them in (ADR 0029). */
  breaksRecorded?(boundary: string): Promise<void>;
  nowMs?: () => number;
}

const schedulerTickMs = 30_000;
/** Dates one scheduler pass closes at most (a long outage catches up over several passes). */
const catchUpDatesMax = 31;
/** A scheduled close that failed is tried again after this (an operator can re-run it sooner). */
const failedRetryMs = 10 * 60_000;
/** How long stop() waits for a scheduled run to finish. */
const stopWaitMs = 5_000;

/** The signing key: EOD_SIGNING_KEY_FILE, or one generated beside the reports directory (never logged). */
export function signingKeyFileOf(settings: Settings): { file: string; create: boolean } {
  if (settings.EOD_SIGNING_KEY_FILE) return { file: settings.EOD_SIGNING_KEY_FILE, create: false };
  return { file: path.join(path.dirname(path.resolve(settings.EOD_REPORTS_DIR)), 'eod-signing-key.pem'), create: true };
}

/**
 * The close as a leader service (ADR 0016): started with the reconcilers on election, stopped
 * with them. It resumes a run a deposed leader left in a step, and its scheduler closes each
 * business date when it ends and catches up dates missed while no instance ran.
 */
export class EodService {
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<void> = Promise.resolve();
  private stopped = false;
  /** When the scheduler last saw each date's close fail. */
  private readonly failedAtMs = new Map<string, number>();

  private constructor(readonly close: EodClose, readonly proofs: ProofService, private readonly deps: EodServiceDeps) {}

  static async start(deps: EodServiceDeps): Promise<EodService> {
    const key = signingKeyFileOf(deps.settings);
    let signer: ReportSigner | null = null;
    const loadSigner = (): ReportSigner => {
      if (!signer) {
        signer = loadReportSigner(key.file, { create: key.create });
        deps.log.info({ event: 'eod.signing_key', signingKeyFile: key.file, publicKey: signer.publicKey }, 'EOD signing key loaded');
      }
      return signer;
    };
    const reportsStore = await new Objm(deps.js).open(deps.names.eodReportsStore); // made in src/nats/topology.ts
    const close = new EodClose({
      pool: deps.pool, nc: deps.nc, js: deps.js, names: deps.names, log: deps.log, settings: deps.settings, signer: loadSigner,
      steps: eodStepRegistry(deps.stepOverrides), fence: deps.fence, reportsStore, renderHtml: deps.renderHtml ?? renderReportHtml,
      engineCaughtUp: () => meDbCaughtUp(deps),
      ...(deps.breaksRecorded ? { breaksRecorded: deps.breaksRecorded } : {}),
      ...(deps.nowMs ? { nowMs: deps.nowMs } : {}),
    });
    const service = new EodService(close, new ProofService(deps.pool), deps);
    deps.log.info({ event: 'eod.started', signingKeyFile: key.file, scheduler: deps.settings.EOD_SCHEDULER, reportsDir: path.resolve(deps.settings.EOD_REPORTS_DIR) }, 'EOD close ready on the leader');
    service.resumeInterrupted();
    if (deps.settings.EOD_SCHEDULER === 'on') {
      service.schedule();
      service.timer = setInterval(() => service.schedule(), schedulerTickMs);
    }
    return service;
  }

  /**
   * Stops scheduling. A run in progress is not waited for past `stopWaitMs`: deposed, its next
   * write is refused by the fence; shutting down, it ends with the pool. Either way nothing of it
   * commits half, and the next leader resumes it.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.pass, new Promise((resolve) => { timer = setTimeout(resolve, stopWaitMs); })]);
    clearTimeout(timer);
  }

  /** Runs `date`, or joins its run. */
  run(date: string): Promise<RunState> {
    return this.close.run(date);
  }

  /**
   * A run a deposed (or killed) leader left unfinished, this leader finishes (docs/contract.md §9):
   * one with a step running, one stopped between steps or before its seal (no step failed, no
   * report), and one sealed whose report and eod.sealed were not published yet. A run that
   * ended failed is left to the scheduler's retry or to an operator.
   */
  private resumeInterrupted(): void {
    this.pass = this.pass.then(async () => {
      const result = await this.deps.pool.query<{ date: string }>(
        `SELECT to_char(r.business_date, 'YYYY-MM-DD') AS date FROM eod_runs r
          WHERE NOT EXISTS (SELECT 1 FROM eod_reports p WHERE p.business_date = r.business_date)
          GROUP BY r.business_date
         HAVING bool_or(r.status = 'running') OR NOT bool_or(r.status = 'failed')
         UNION
         SELECT to_char(business_date, 'YYYY-MM-DD') FROM eod_reports WHERE published_at IS NULL
         ORDER BY 1`);
      for (const { date } of result.rows) {
        if (this.stopped) return;
        this.deps.log.info({ event: 'eod.run.resumed', date }, `resuming the close of ${date} left unfinished by a previous leader`);
        await this.close.run(date).catch((error: unknown) => this.deps.log.error({ event: 'eod.run.resume_failed', date, err: (error as Error).message }, 'resuming the close failed'));
      }
    });
  }

  /** Closes every ended, unsealed date in order, from the day after the last sealed one (or the first with data). */
  private schedule(): void {
    this.pass = this.pass.then(async () => {
      try {
        const first = await this.close.firstBusinessDate();
        if (first === null) return;
        const lastSealed = await this.close.lastSealedDate();
        const last = lastClosedDate((this.deps.nowMs ?? Date.now)(), this.close.cutover);
        let date = lastSealed && lastSealed >= first ? addDays(lastSealed, 1) : first;
        const nowMs = (this.deps.nowMs ?? Date.now)();
        for (let n = 0; n < catchUpDatesMax && date <= last && !this.stopped; n++, date = addDays(date, 1)) {
          const failedAt = this.failedAtMs.get(date);
          if (failedAt !== undefined && nowMs - failedAt < failedRetryMs) return;
          const state = await this.close.run(date);
          if (state.status === 'failed') this.failedAtMs.set(date, nowMs);
          if (state.status !== 'sealed') {
            this.deps.log.warn({ event: 'eod.scheduler.stopped', date, status: state.status }, `the scheduled close of ${date} did not seal; later dates wait for it`);
            return;
          }
        }
      } catch (error) {
        this.deps.log.error({ event: 'eod.scheduler.failed', err: (error as Error).message }, 'scheduled close failed');
      }
    });
  }
}

/**
 * The me_db reconciler has recorded every engine event published so far: its consumer's ack
 * floor has reached the stream's last message (read first). Acks follow the checkpoint that
 * records the history, so the history is complete up to there. (num_pending can lag.)
 */
async function meDbCaughtUp(deps: EodServiceDeps): Promise<boolean> {
  try {
    const stream = await deps.jsm.streams.info(deps.names.meBalanceStream);
    const consumer = await deps.jsm.consumers.info(deps.names.meBalanceStream, deps.names.meDbConsumer);
    return consumerAckFloor(consumer) >= stream.state.last_seq;
  } catch {
    return false;
  }
}

import type { NatsConnection } from '@nats-io/nats-core';
import type { Settings } from '../../config/settings.js';
import type { Pool, PoolClient } from '../../db/pool.js';
import type { Logger } from '../../observability/logger.js';
import type { BusinessWindow } from '../business-date.js';

import type { EodStepName } from '../report/index.js';

/** The eleven steps of the close, in order (docs/contract.md §9: these exact strings): one list, the report schema's. */
export { eodStepNames, type EodStepName } from '../report/index.js';

/** Figures a step reports: JSON only, amounts as decimal strings (never a float). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A difference found at the cut, listed in the report. */
export interface CutBreak {
  boundary: string;
  kind: string;
  userId?: string;
  currency: string;
  left: string;
  right: string;
  delta: string;
  detail?: string;
}

export interface EodStepContext {
  date: string;
  window: BusinessWindow;
  /** The previous business date when it was sealed (its closes are the base the day's changes are added to). */
  previousSealedDate: string | null;
  pool: Pool;
  nc: NatsConnection;
  settings: Settings;
  log: Logger;
  /** Aborted when the step's timeout passes: long loops check it, and nothing is written after it. */
  signal: AbortSignal;
  /** Derives the per-(date, currency) secret the salts come from (ADR 0016). */
  saltSeed(currency: string): Uint8Array;
  /** Whether the me_db reconciler has recorded every engine event published so far (its consumer is drained and acked). */
  engineCaughtUp(): Promise<boolean>;
  /** Computes `compute` once per run and date, shared by the steps that need it (the cut's balances). */
  shared<T>(key: string, compute: () => Promise<T>): Promise<T>;
}

/** What a step computed: its figures, its breaks at the cut, and the writes committed with its completion. */
export interface EodStepResult {
  figures: JsonObject;
  breaks?: CutBreak[];
  /** Runs inside the step's fenced completion transaction: the step's rows and its `completed` mark commit together. */
  write?(client: PoolClient): Promise<void>;
}

/**
 * A failure the step expects and names (a negative balance, a root that does not tie to the
 * ledger). `breaks`, when given, are every break the step found at the cut (none left out): the
 * close records them with the failure, and resolves the date's earlier ones not among them (ADR 0029).
 */
export class EodStepFailure extends Error {
  constructor(message: string, readonly breaks?: readonly CutBreak[]) {
    super(message);
    this.name = 'EodStepFailure';
  }
}

/** Where the breaks a step fails on are recorded: a boundary's `recon_breaks`, of these kinds, keyed `<date>/<userId>/<currency>`. */
export interface FailureBreakOwner {
  boundary: string;
  kinds: readonly string[];
}

export interface EodStep {
  name: EodStepName;
  /** Why the step does not run in this deployment (not built yet, a boundary not configured), or null. */
  skipReason(settings: Settings): string | null;
  /** The breaks a failure of this step records (absent: it records none). */
  failureBreaks?: FailureBreakOwner;
  run(context: EodStepContext): Promise<EodStepResult>;
}

import type { AccountCommandClient } from '../actors/command-client.js';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../observability/logger.js';
import type { BoundaryName } from './boundary-status.js';
import type { Reconciler } from './reconciler.js';
import type { ReconcilerDeps } from './reconciler-deps.js';

/** What the leader starts a boundary with. */
export interface BoundaryDeps extends ReconcilerDeps {
  /** Account commands (a me_db break freezes the account). */
  commands: AccountCommandClient;
}

/** A setting that cannot work: start-up stops with one line naming it (exit 2). */
export interface ConfigProblem {
  setting: string;
  message: string;
}

/** One boundary, as the registry (`src/recon/boundaries.ts`) lists it. */
export interface BoundaryDefinition {
  name: BoundaryName;
  /** Why it cannot run with these settings (reported as disabled, never as broken), or null. */
  disabledReason(settings: Settings): string | null;
  /** Checked once at start-up, before anything runs; problems stop start-up. */
  validate(settings: Settings, log: Logger): Promise<ConfigProblem[]>;
  start(deps: BoundaryDeps): Promise<Reconciler>;
}

import type { BoundaryStatus } from './boundary-status.js';
import type { BreakActionOutcome, LiveBreak } from './breaks/break.js';

/** A seal as every boundary writes it: its own cut, a digest, the breaks live at the cut. */
export interface BoundarySeal {
  boundary: string;
  businessDate: string;
  cut: object;
  digest: string;
  openBreaks: LiveBreak[];
  sealedAt: string;
}

/**
 * One running boundary, whatever it compares. The admin service, the leader and the close
 * see every reconciler through this shape only.
 */
export interface Reconciler {
  readonly boundary: string;
  status(): BoundaryStatus;
  liveBreaks(): LiveBreak[];
  /** An operator's acknowledge / accept, decided on the break's row as it is now (it may have resolved since it was loaded). */
  act(breakId: string, action: 'acknowledge' | 'accept', actorId: string, reason: string | null): Promise<BreakActionOutcome>;
  /** The boundary's consistent cut for a business date, written once (a repeat returns the first). */
  seal(businessDate: string): Promise<BoundarySeal>;
  /** Takes in the breaks another writer (the close) recorded for this boundary, so they are listed and paged (ADR 0029). */
  adoptRecordedBreaks?(): Promise<void>;
  /** Re-seeds the left side from its source's snapshot after a sequence fault (where the boundary has one). */
  rebaseline?(actorId: string, reason: string): Promise<object>;
  stop(): Promise<void>;
}

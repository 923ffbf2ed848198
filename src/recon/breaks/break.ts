/** All amounts are numeric(38,18): minor units at 18 decimals. */
export const moneyScale = 18;

export const breakStatuses = ['open', 'acknowledged', 'accepted', 'resolved'] as const;
export type BreakStatus = (typeof breakStatuses)[number];

/** A difference that outlived its grace window, as a reconciler sees it. */
export interface BreakCandidate {
  kind: string;
  /** Identifies what differs within the kind, e.g. `<userId>/<currency>` or a journal id. */
  key: string;
  userId?: string;
  currency?: string;
  leftMinor?: bigint;
  rightMinor?: bigint;
  detail?: string;
}

/** A break that is open, acknowledged, or accepted and not yet cleared. */
export interface LiveBreak {
  id: string;
  boundary: string;
  kind: string;
  key: string;
  userId: string | null;
  currency: string | null;
  /** Decimal strings (wire form). */
  left: string | null;
  right: string | null;
  delta: string | null;
  detail: string | null;
  status: Exclude<BreakStatus, 'resolved'>;
  firstSeenAtMs: number;
}

/**
 * What an operator's acknowledge / accept did: `acted` on the break as its row stood (locked);
 * `not_live`: the row had resolved meanwhile (another writer, the close, changed it after this
 * copy was loaded), nothing recorded; `unknown`: not a live break this boundary holds.
 */
export type BreakActionOutcome =
  | { outcome: 'acted'; live: LiveBreak }
  | { outcome: 'not_live'; breakId: string; status: BreakStatus; resolvedAt: string | null }
  | { outcome: 'unknown'; breakId: string };

/** Payload of `recon.alert.<boundary>` and `recon.resolved.<boundary>` (docs/contract.md §8). */
export interface BreakAlert {
  breakId: string;
  boundary: string;
  kind: string;
  userId?: string;
  currency: string | null;
  left: string | null;
  right: string | null;
  delta: string | null;
  firstSeenAt: string;
  detail?: string;
  /** On `recon.resolved.*`: when, and the last difference seen while the break was live (left/right/delta are then the agreed values). */
  resolvedAt?: string;
  lastLeft?: string | null;
  lastRight?: string | null;
  lastDelta?: string | null;
}

/** The amounts both sides show when a break resolves (equal, or within the boundary's tolerance). */
export interface Agreement {
  leftMinor: bigint;
  rightMinor: bigint;
}

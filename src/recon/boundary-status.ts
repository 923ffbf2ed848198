import type { LiveBreak } from './breaks/break.js';

export const boundaryNames = ['me_db', 'db_custody', 'db_chain'] as const;
export type BoundaryName = (typeof boundaryNames)[number];

/** Open breaks by age in days, the buckets operators triage by. */
export interface AgeBuckets {
  '0-1': number;
  '2-7': number;
  '8-30': number;
  '>30': number;
}

/** One entry of `admin.recon.status` (docs/contract.md §2: name, lastDeltaAt, openBreaks; the rest is detail). */
export interface BoundaryStatus {
  name: string;
  enabled: boolean;
  lastDeltaAt: string | null;
  openBreaks: number;
  ageBuckets?: AgeBuckets;
  watermarks?: Record<string, string | number>;
  counters?: Record<string, number>;
  reason?: string;
}

const dayMs = 24 * 60 * 60 * 1000;

export function ageBucketsOf(breaks: readonly LiveBreak[], nowMs: number): AgeBuckets {
  const buckets: AgeBuckets = { '0-1': 0, '2-7': 0, '8-30': 0, '>30': 0 };
  for (const b of breaks) {
    const days = Math.floor((nowMs - b.firstSeenAtMs) / dayMs);
    if (days <= 1) buckets['0-1']++;
    else if (days <= 7) buckets['2-7']++;
    else if (days <= 30) buckets['8-30']++;
    else buckets['>30']++;
  }
  return buckets;
}

/** A boundary with no configuration: reported as disabled, never as broken. */
export function disabledBoundary(name: BoundaryName, reason: string): BoundaryStatus {
  return { name, enabled: false, lastDeltaAt: null, openBreaks: 0, reason };
}

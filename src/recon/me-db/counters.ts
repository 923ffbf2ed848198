export interface MeDbCounters {
  engineEventsApplied: number;
  engineEventsParked: number;
  ledgerRowsRead: number;
  /** Rows read by this incarnation: shows a restart did not re-read history. */
  ledgerRowsReadSinceStart: number;
  /** Rows this incarnation took in as sums by a cold seed (ADR 0025), not one by one. */
  ledgerRowsSeeded: number;
  checks: number;
  /** Engine deliveries lost in transit (a gap in the consumer's delivery sequence), each followed by a rewind (ADR 0031). */
  engineDeliveryGaps: number;
}

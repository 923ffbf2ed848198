export interface MeDbCounters {
  engineEventsApplied: number;
  engineEventsParked: number;
  ledgerRowsRead: number;
  /** Rows read by this incarnation: shows a restart did not re-read history. */
  ledgerRowsReadSinceStart: number;
  checks: number;
}

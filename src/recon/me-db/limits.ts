export interface MeDbLimits {
  graceMs: number;
  tickMs: number;
  checkpointMs: number;
  ledgerPollMs: number;
  ledgerBatchRowsMax: number;
  engineInFlightMax: number;
  engineAckWaitMs: number;
  snapshotTimeoutMs: number;
}

export const defaultMeDbLimits: Omit<MeDbLimits, 'graceMs'> = {
  tickMs: 250,
  checkpointMs: 1_000,
  ledgerPollMs: 500,
  ledgerBatchRowsMax: 5_000,
  engineInFlightMax: 50_000,
  engineAckWaitMs: 60_000,
  snapshotTimeoutMs: 5_000,
};

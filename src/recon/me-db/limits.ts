import { reconLimits } from '../limits.js';

export interface MeDbLimits {
  graceMs: number;
  tickMs: number;
  checkpointMs: number;
  ledgerPollMs: number;
  ledgerBatchRowsMax: number;
  engineInFlightMax: number;
  engineAckWaitMs: number;
  snapshotTimeoutMs: number;
  /** RECON_ME_DB_POSITIONS_MAX: positions held in memory (the rest only in recon_me_db_positions). */
  positionsInMemoryMax: number;
  /** Live breaks held (paged, acted on) before a storm; default reconLimits.liveBreaksHeldMax. */
  liveBreaksHeldMax?: number;
}

export const defaultMeDbLimits: Omit<MeDbLimits, 'graceMs'> = {
  tickMs: 250,
  checkpointMs: 1_000,
  ledgerPollMs: 500,
  ledgerBatchRowsMax: 5_000,
  engineInFlightMax: 50_000,
  engineAckWaitMs: 60_000,
  snapshotTimeoutMs: 5_000,
  positionsInMemoryMax: reconLimits.meDbPositionsInMemoryMaxDefault,
};

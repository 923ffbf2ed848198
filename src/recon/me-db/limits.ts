import { reconLimits } from '../limits.js';

export interface MeDbLimits {
  graceMs: number;
  tickMs: number;
  checkpointMs: number;
  /** The checkpoint interval while either side has a backlog (bounded by engineInFlightMax / 2 unacked events too). */
  checkpointBehindMs: number;
  /** How often the watched keys are compared while either side has a backlog (0: every tick, as when caught up). */
  compareBehindMs: number;
  ledgerPollMs: number;
  ledgerBatchRowsMax: number;
  engineInFlightMax: number;
  engineAckWaitMs: number;
  snapshotTimeoutMs: number;
  /** A first start (no checkpoint) seeds both sides as sets at their watermarks (ADR 0025); false: replays them from their starts. */
  coldSeed: boolean;
  /** Unbalanced journals the cold seed lists at most (reconLimits.meDbSeedJournalsMax). */
  seedJournalsMax: number;
  /** After a seed, the balance stream is followed from this many events before the first one past the snapshot. */
  seedStreamMarginEvents: number;
  /** RECON_ME_DB_POSITIONS_MAX: positions held in memory (the rest only in recon_me_db_positions). */
  positionsInMemoryMax: number;
  /** Live breaks held (paged, acted on) before a storm; default reconLimits.liveBreaksHeldMax. */
  liveBreaksHeldMax?: number;
}

export const defaultMeDbLimits: Omit<MeDbLimits, 'graceMs'> = {
  tickMs: 250,
  checkpointMs: 1_000,
  checkpointBehindMs: 10_000,
  compareBehindMs: 0,
  ledgerPollMs: 500,
  ledgerBatchRowsMax: reconLimits.meDbLedgerBatchRowsMax,
  engineInFlightMax: 50_000,
  engineAckWaitMs: 60_000,
  snapshotTimeoutMs: 5_000,
  coldSeed: true,
  seedJournalsMax: reconLimits.meDbSeedJournalsMax,
  seedStreamMarginEvents: 1_000,
  positionsInMemoryMax: reconLimits.meDbPositionsInMemoryMaxDefault,
};

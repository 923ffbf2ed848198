/**
 * Every bound of the reconcilers, in one place (the command path's are in src/config/limits.ts).
 * Values live here; each boundary's limits file (me-db/, db-custody/, db-chain/limits.ts)
 * takes them, with the timings derived from settings. Every map, set and queue a reconciler
 * holds is bounded by one of these (ADR 0026):
 *
 * me_db
 * - positions held: `meDbPositionsInMemoryMaxDefault` (setting RECON_ME_DB_POSITIONS_MAX) plus
 *   one batch (`meDbLedgerBatchRowsMax` rows or `meDbEngineInboxMax` events); its watched and
 *   dirty sets are subsets of them. Over the cap with nothing evictable for a grace window
 *   (counted from when both sides were read through; `meDbPositionCapBehindGraceMs` in all): a
 *   reconciler_error meta-alert, nothing dropped.
 * - ledger reads: `meDbLedgerBatchRowsMax` rows a batch, one batch read ahead while one is
 *   applied (ADR 0025): two batches at most.
 * - checkpoints: written in the queue, of the dirty positions copied at the cut; the digest's
 *   pending changes are one per changed position since the last one.
 * - cold seed (ADR 0025), during start() only: the engine snapshot and the ledger's Σ per
 *   (account, currency), one entry per position each; more positions than the cap are saved at
 *   once (`checkpointRowsPerStatementMax` rows per statement) and at most the cap is held.
 *   Unbalanced journals of the seeded history listed: `meDbSeedJournalsMax`.
 * - history per held position: one point per side while the sides agree, at most
 *   `meDbHistoryPointsPerSideMax` per side while they differ, none older than
 *   max(`meDbHistoryMsMin`, 4 × RECON_GRACE_MS) but the one before the window.
 * - engine messages: `meDbEngineInboxMax` received, `engineInFlightMax` unacked (a checkpoint at
 *   half of it acks them), the events kept for the checkpoint's history are the same ones.
 * - mailbox: `meDbQueueDepthMax`; currency totals and journals: one entry per currency / per
 *   journal of one ledger batch.
 * - restore: `meDbRestorePageRowsMax` saved positions read at once; loads of evicted positions:
 *   `meDbLoadUsersPerQueryMax` users per query.
 *
 * every boundary's break registry
 * - live breaks held (paged, acted on): `liveBreaksHeldMax` of the keyed kinds, plus the few
 *   meta-breaks (one key each); past it a break storm (break_storm), the rest only in Postgres.
 * - outbox: `outboxBatchMax` rows per round; `outboxPendingMax` waiting is itself an alert.
 *
 * db_custody: wallets ≤ `dbCustodyWalletsMax` (BITGO_WALLETS, checked at start); every map is
 * per wallet or per currency of those wallets; ledger reads ≤ ledgerBatchRowsMax ×
 * ledgerBatchesPerRoundMax rows a round; mailbox `dbCustodyQueueDepthMax`.
 *
 * db_chain: addresses per comparison ≤ `dbChainAddressesMax` on each side (staking_positions and
 * the chain's stakers; more is a reconciler_error), and its grace clocks, digest leaves and
 * breaks are per such address; the follower's deltas ≤ deltasWindowMax and blocks ≤
 * windowBlocks (src/adapters/chain/staking-follower.ts); mailbox `dbChainQueueDepthMax`.
 */
export const reconLimits = {
  /** How often pending outbox rows (and meta-alerts not yet recorded) are tried again. */
  outboxRetryMs: 1_000,
  /** Outbox rows carried out per drain round. */
  outboxBatchMax: 200,
  /** More rows than this waiting is itself a reconciler_error (the rows stay: never dropped). */
  outboxPendingMax: 10_000,
  outboxPublishTimeoutMs: 5_000,
  /** Postgres-away errors within this of the first are one cut: not paged (ADR 0027). */
  connectionCutSpreadMs: 2_000,
  /** A second cut sooner than this after the first is paged as a reconciler_error. */
  connectionCutQuietMs: 60_000,
  /** An engine sequence that moves further than this in one event is implausible: a meta-break, not applied. */
  engineSeqJumpMax: 1_000_000_000,
  /** me_db's mailbox: engine batches, ledger batches, ticks, seals and admin actions waiting, at most. */
  meDbQueueDepthMax: 100_000,
  /** Engine messages received but not yet applied, at most (the pump waits when full). */
  meDbEngineInboxMax: 5_000,
  /**
   * me_db's balance consumer rewound after an engine event lost in transit (ADR 0031): a gap soon
   * after the previous rewind (within ack_wait) waits this long first, doubling up to the max.
   */
  meDbGapRewindBackoffInitialMs: 100,
  meDbGapRewindBackoffMaxMs: 5_000,
  /** After a gap, the wait before trying again a checkpoint or a rewind that failed (Postgres or NATS away). */
  meDbGapRetryMs: 1_000,
  /** db_custody's mailbox. */
  dbCustodyQueueDepthMax: 1_000,
  /** BITGO_WALLETS entries at most. */
  dbCustodyWalletsMax: 1_000,
  /** Distinct addresses on either side of one db_chain comparison. */
  dbChainAddressesMax: 1_000_000,
  /** db_chain's mailbox. */
  dbChainQueueDepthMax: 1_000,
  /** Ledger rows per me_db batch (a batch ends at a transaction boundary, so it holds at most this many). */
  meDbLedgerBatchRowsMax: 20_000,
  /** Unbalanced journals a me_db cold seed lists (each a break) at most; past it, one reconciler_error says more exist. */
  meDbSeedJournalsMax: 1_000,
  /** Rows per statement when a checkpoint (or a cold seed over the position cap) writes positions. */
  checkpointRowsPerStatementMax: 1_000,
  /**
   * me_db positions held in memory, by default (setting RECON_ME_DB_POSITIONS_MAX): the least
   * recently used clean, agreeing one is evicted past it and loaded again when touched. Over it
   * with nothing evictable (all differ) is a reconciler_error; nothing is dropped (ADR 0026).
   */
  meDbPositionsInMemoryMaxDefault: 200_000,
  /**
   * How long the me_db book may stay over its cap with nothing evictable while a side is behind
   * (events waiting, the ledger read full) before it pages: its differences are then in-flight
   * work, not breaks, and a backlog can take longer than the grace window to read.
   */
  meDbPositionCapBehindGraceMs: 60_000,
  /** History points kept per side of a differing me_db position (an agreeing one keeps one). */
  meDbHistoryPointsPerSideMax: 256,
  /** A difference's history reaches back this far at least (or 4 grace windows, if longer). */
  meDbHistoryMsMin: 60_000,
  /**
   * Live breaks of the keyed kinds (balance, journal_unbalanced, position) one boundary holds,
   * pages and acts on (freeze, pause). Past it a break storm is on: one break_storm meta-break
   * pages, every further break is still recorded in recon_breaks but not paged, held or acted
   * on, and resolves there when its key agrees again (ADR 0026).
   */
  liveBreaksHeldMax: 10_000,
  /** Saved positions read per page when a restart restores them (the digest needs every one). */
  meDbRestorePageRowsMax: 10_000,
  /** Users per query when a batch loads its evicted positions back. */
  meDbLoadUsersPerQueryMax: 10_000,
} as const;

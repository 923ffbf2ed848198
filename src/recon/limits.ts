/** The reconcilers' shared limits, in one place (each boundary's own are in its folder, derived from settings). */
export const reconLimits = {
  /** How often pending outbox rows (and meta-alerts not yet recorded) are tried again. */
  outboxRetryMs: 1_000,
  /** Outbox rows carried out per drain round. */
  outboxBatchMax: 200,
  /** More rows than this waiting is itself a reconciler_error (the rows stay: never dropped). */
  outboxPendingMax: 10_000,
  outboxPublishTimeoutMs: 5_000,
  /** An engine sequence that moves further than this in one event is implausible: a meta-break, not applied. */
  engineSeqJumpMax: 1_000_000_000,
  /** me_db's mailbox: engine batches, ledger batches, ticks, seals and admin actions waiting, at most. */
  meDbQueueDepthMax: 100_000,
  /** Engine messages received but not yet applied, at most (the pump waits when full). */
  meDbEngineInboxMax: 5_000,
  /** db_custody's mailbox. */
  dbCustodyQueueDepthMax: 1_000,
  /** Rows per statement when a checkpoint writes positions. */
  checkpointRowsPerStatementMax: 1_000,
  /**
   * me_db positions held in memory, by default (setting RECON_ME_DB_POSITIONS_MAX): the least
   * recently used clean, agreeing one is evicted past it and loaded again when touched. Over it
   * with nothing evictable (all differ) is a reconciler_error; nothing is dropped (ADR 0026).
   */
  meDbPositionsInMemoryMaxDefault: 200_000,
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

/** The reconcilers' shared limits, in one place (each boundary's own are in its folder, derived from settings). */
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
  /** db_custody's mailbox. */
  dbCustodyQueueDepthMax: 1_000,
  /** Rows per statement when a checkpoint writes positions. */
  checkpointRowsPerStatementMax: 1_000,
} as const;

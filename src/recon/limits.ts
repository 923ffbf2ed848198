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
  /** The ledger LISTEN connection is re-established after a cut, at most this far apart. */
  ledgerListenRetryMaxMs: 10_000,
} as const;

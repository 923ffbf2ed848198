/**
 * Every bound on the command path, in one place (TigerStyle: a limit on everything); the
 * reconcilers' are in src/recon/limits.ts (positions, live breaks, outbox, mailboxes). Units are
 * in the names. Bounds an operator may tune per deployment are settings (src/config/settings.ts)
 * and are listed here by name so this file is the whole picture:
 *
 * - `LIVE_ACTORS_MAX` (100,000): account actors alive at once; the least recently used idle
 *   one is passivated to make room. A passivated account costs no memory: its state is in KV.
 * - `MAILBOX_DEPTH_MAX` (1,000): commands queued for one actor; a full mailbox slows its intake.
 * - `ACTOR_IDLE_MS` (60,000): an actor idle this long is passivated.
 * - `COMMAND_MAX_ATTEMPTS` (5): tries of one command before it is parked after a fault; after
 *   transient failures judged its own (others succeeded since its previous failure, ADR 0028) it is
 *   `transientOwnAttemptsMax` (20) below.
 * - `COMMAND_PARTITIONS` (16): partitions, so at most that many intakes per instance.
 * - `COMMAND_RESTARTS_MAX` (1,000): restarts after a fault (not after a transient failure of a
 *   dependency, ADR 0028) within `restartWindowMs` before the supervisor escalates and the engine stops.
 * - `COMMAND_BREAKER_FAILURES` (20): transient failures in a row that open the command path's
 *   breaker (the intakes pause; commands wait in their stream).
 * - `COMMAND_BREAKER_BACKOFF_MAX_MS` (30,000): the longest wait of an open breaker before it
 *   half-opens and probes; the first is `breakerBackoffInitialMs`, doubling per failed probe.
 *
 * Every queue on the path is bounded by one of these: commands in flight per partition
 * (`intakeInFlightMax`), so queued in mailboxes ≤ partitions × intakeInFlightMax; the group
 * commit queues hold at most one item per running actor, and flush at most `groupCommitRowsMax`
 * at once; the supervisor's restart window holds at most `COMMAND_RESTARTS_MAX` + 1 timestamps.
 */
export const limits = {
  /** Unacked commands one partition consumer may have in flight (JetStream max_ack_pending). */
  intakeInFlightMax: 1_000,
  /** Messages one pull of a partition consumer buffers (the consumer's batch). */
  intakeBatchMax: 256,
  /** JetStream redelivers a command unacked this long (the intake signals progress on retries). */
  intakeAckWaitMs: 30_000,
  /**
   * A partition consumer rewound after a delivery lost in transit (ADR 0031): a gap soon after the
   * previous rewind (within ack_wait) waits this long first, doubling per gap up to the max, so two
   * instances briefly pulling one durable (a lease hand-over) do not rewind it in a loop.
   */
  intakeGapRewindBackoffInitialMs: 100,
  intakeGapRewindBackoffMaxMs: 5_000,
  /** The wait before trying again a rewind that failed (NATS away). */
  intakeRewindRetryMs: 1_000,
  /** Items (audit rows, rejections, outcome lookups) in one group-commit statement. */
  groupCommitRowsMax: 1_000,
  /** Group-commit statements of one kind in flight at once; each holds a pool connection. */
  groupCommitFlushesInFlightMax: 2,
  /** Connections in the engine's Postgres pool. */
  poolConnectionsMax: 10,
  /**
   * Supervisor: tries of a command whose failures look transient but are its own (other commands
   * succeed meanwhile) before it is parked; with the backoff below, over a minute of failing alone.
   */
  transientOwnAttemptsMax: 20,
  /**
   * Supervisor: how long a direct probe of Postgres or JetStream may take to count as an answer;
   * asked when a command fails as if one were away and no other command ran since (ADR 0028).
   */
  dependencyProbeTimeoutMs: 2_000,
  /** Supervisor: first and longest backoff between tries of a failing command. */
  backoffInitialMs: 100,
  backoffMaxMs: 5_000,
  /** Supervisor: the window of the restart budget (COMMAND_RESTARTS_MAX restarts after a fault). */
  restartWindowMs: 60_000,
  /** Breaker: the first wait of an open breaker before its half-open probe (COMMAND_BREAKER_BACKOFF_MAX_MS the longest). */
  breakerBackoffInitialMs: 1_000,
  /**
   * /metrics: a partition consumer's pending count is asked of the server (an `info`, which holds
   * the command stream's lock while NATS 2.9 counts a filtered consumer, ADR 0037) at most this
   * often; in between, and while its intake's own count is current, the last answer is served.
   */
  consumerLagInfoIntervalMs: 15_000,
} as const;

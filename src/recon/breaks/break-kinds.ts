/** Every break kind of every boundary, named once. */
export const breakKinds = {
  /** The two sides of a (user, currency) or an asset differ beyond the grace window / tolerance. */
  balance: 'balance',
  journalUnbalanced: 'journal_unbalanced',
  currencyNonzero: 'currency_nonzero',
  /** db_chain: Σ positions ≠ totalStaked(), and per address. */
  total: 'total',
  position: 'position',
  /** A side could not be read for longer than the grace window. */
  unreachable: 'unreachable',
  /** A user balance below zero at a business date's cut (engine or ledger side): recorded by the close, which fails `balance_snapshot` on it (ADR 0029). */
  negativeBalance: 'negative_balance',
  /** Meta: the reconciler itself failed (never silent; paged through NATS first). */
  reconcilerError: 'reconciler_error',
  /** Meta: the engine's sequence went backwards / jumped implausibly; the boundary needs a re-baseline. */
  sequenceRegression: 'sequence_regression',
  sequenceJump: 'sequence_jump',
  /** Meta: more live breaks at once than a boundary holds in memory; the rest are recorded, not paged (ADR 0026). */
  breakStorm: 'break_storm',
} as const;

/** Kinds with a key per user, address or journal: the ones a storm can multiply, so the ones the live-break cap counts. */
export const keyedBreakKinds: ReadonlySet<string> = new Set([breakKinds.balance, breakKinds.journalUnbalanced, breakKinds.position]);

/**
 * Kinds the close records, refreshes and resolves (ADR 0029); the reconciler of their boundary
 * only lists them and lets operators act on them. It never writes their amounts: its copy can be
 * older than the row (the window before it re-loads).
 */
export const closeRecordedKinds: ReadonlySet<string> = new Set([breakKinds.negativeBalance]);

export type BreakKind = (typeof breakKinds)[keyof typeof breakKinds];

export { dbCustodyDisabledReason, dbCustodyLimitsFrom, type DbCustodyLimits } from './limits.js';
export type { DbCustodySeal, SealedCurrency, SealedWallet } from './seal-record.js';
export { startDbCustodyReconciler, type DbCustodyDeps, type DbCustodyReconciler } from './reconciler.js';
export { custodyAccount, dbCustodyBoundary } from './ledger-holdings.js';
export { settlingReferenceType } from './in-flight.js';
export { breakCauses, judgeCurrency, type BreakCause, type CurrencyJudgement, type CurrencyVerdict, type KnownCauses, type ToleranceParts } from './tolerance.js';

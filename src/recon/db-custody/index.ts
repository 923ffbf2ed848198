export {
  dbCustodyDisabledReason, dbCustodyLimitsFrom, startDbCustodyReconciler,
  type DbCustodyDeps, type DbCustodyLimits, type DbCustodyReconciler, type DbCustodySeal, type SealedCurrency, type SealedWallet,
} from './reconciler.js';
export { custodyAccount, dbCustodyBoundary } from './ledger-holdings.js';
export { settlingReferenceType } from './in-flight.js';
export { breakCauses, judgeCurrency, type BreakCause, type CurrencyJudgement, type CurrencyVerdict, type KnownCauses, type ToleranceParts } from './tolerance.js';

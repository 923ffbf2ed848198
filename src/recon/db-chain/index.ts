export { dbChainBoundary } from './checkpoint.js';
export { dbChainDisabledReason, dbChainLimitsFrom, defaultDbChainLimits, type DbChainLimits } from './limits.js';
export type { DbChainCut, DbChainSeal } from './seal-record.js';
export { startDbChainReconciler, type DbChainDeps, type DbChainReconciler } from './reconciler.js';

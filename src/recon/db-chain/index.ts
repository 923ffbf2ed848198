export { dbChainBoundary } from './checkpoint.js';
export {
  dbChainDisabledReason, dbChainLimitsFrom, defaultDbChainLimits, startDbChainReconciler,
  type DbChainCut, type DbChainDeps, type DbChainLimits, type DbChainReconciler, type DbChainSeal,
} from './reconciler.js';

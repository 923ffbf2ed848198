import { balanceSnapshotStep } from './balance-snapshot.js';
import { reconDbChainStep } from './recon-db-chain.js';
import { reconDbCustodyStep } from './recon-db-custody.js';
import { reconMeDbStep } from './recon-me-db.js';
import { adminAdjustmentsStep } from './admin-adjustments.js';
import { defaultFeeAccrualStep } from './fee-accrual.js';
import { kycReactivationStep } from './kyc-reactivation.js';
import { pnlStep } from './pnl.js';
import { sanctionsStep } from './sanctions.js';
import { stakingRewardsStep } from './staking-rewards.js';
import { volumeRollupStep } from './volume-rollup.js';
import { eodStepNames, type EodStep, type EodStepName } from './step.js';

/** A step of docs/contract.md §9 that is not built yet: listed in every run as `skipped`, with the reason. */
function notBuilt(name: EodStepName): EodStep {
  return {
    name,
    skipReason: () => 'not built yet: issue 9',
    run: () => Promise.reject(new Error(`${name} is not built yet`)),
  };
}

/** The built steps; adding one is its file and one line here. */
const built: readonly EodStep[] = [
  balanceSnapshotStep, reconMeDbStep, reconDbCustodyStep, reconDbChainStep,
  pnlStep, defaultFeeAccrualStep, volumeRollupStep, stakingRewardsStep, sanctionsStep, kycReactivationStep, adminAdjustmentsStep,
];

/** All eleven steps in the order of docs/contract.md §9. */
export function eodStepRegistry(overrides: readonly EodStep[] = []): EodStep[] {
  return eodStepNames.map((name) => overrides.find((s) => s.name === name) ?? built.find((s) => s.name === name) ?? notBuilt(name));
}

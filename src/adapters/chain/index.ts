export { ChainValueError, type BlockRef } from './chain-values.js';
export { ConfirmedStakes, type ProcessedBlock, type SavedStakes, type StakesChanges } from './confirmed-stakes.js';
export { ChainMovedError, defaultStakingFollowerLimits, StakingFollower, type ChainCut, type FollowerPoll, type RewindReport, type StakingFollowerLimits } from './staking-follower.js';
export { deployStakingPool, loadStakingPoolArtifact, type DeployedPool, type StakingPoolArtifactFile } from './staking-pool-artifact.js';
export { stakingPoolAbi, stakingPoolInterface } from './staking-pool-interface.js';
export { StakingPoolRpc, type StakingDelta, type StakingPoolRpcOptions } from './staking-pool-rpc.js';

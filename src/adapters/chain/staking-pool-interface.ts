import { Interface } from 'ethers';

/**
 * The StakingPool interface of docs/contract.md §7, and only that: any contract exposing it is
 * reconciled, not only contracts/StakingPool.sol. Amounts are base units (10^18 per token).
 */
export const stakingPoolAbi = [
  'event Staked(address indexed staker, uint256 amount)',
  'event Unstaked(address indexed staker, uint256 amount)',
  'function totalStaked() view returns (uint256)',
] as const;

export const stakingPoolInterface = new Interface(stakingPoolAbi);

function topicOf(name: 'Staked' | 'Unstaked'): string {
  const event = stakingPoolInterface.getEvent(name);
  if (!event) throw new Error(`stakingPoolAbi lacks ${name}`);
  return event.topicHash.toLowerCase();
}

export const stakedTopic = topicOf('Staked');
export const unstakedTopic = topicOf('Unstaked');
export const totalStakedCallData = stakingPoolInterface.encodeFunctionData('totalStaked', []);

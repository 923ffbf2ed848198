import { defaultStakingFollowerLimits, type StakingFollowerLimits } from '../../adapters/chain/staking-follower.js';
import type { Settings } from '../../config/settings.js';
import { reconLimits } from '../limits.js';

export interface DbChainLimits extends StakingFollowerLimits {
  /** RECON_GRACE_MS: how long a difference (or an unreachable node) may last before it is a break. */
  graceMs: number;
  /** CHAIN_POLL_MS. */
  pollMs: number;
  rpcTimeoutMs: number;
  /** Distinct addresses on either side (staking_positions, the chain's stakers) per comparison. */
  addressesMax: number;
  /** How often live breaks get their last_seen_at and amounts saved. */
  touchBreaksMs: number;
  queueDepthMax: number;
  /** The `currency` of db_chain alerts: the staked token. */
  currency: string;
}

export const defaultDbChainLimits: Omit<DbChainLimits, 'graceMs' | 'pollMs' | 'confirmations'> = {
  ...defaultStakingFollowerLimits,
  rpcTimeoutMs: 10_000,
  addressesMax: reconLimits.dbChainAddressesMax,
  touchBreaksMs: 5_000,
  queueDepthMax: reconLimits.dbChainQueueDepthMax,
  currency: 'STAKE',
};

/** Why db_chain cannot run with these settings (reported as disabled), or null when it can. */
export function dbChainDisabledReason(settings: Settings): string | null {
  const missing = [!settings.ETH_RPC_URL && 'ETH_RPC_URL', !settings.STAKING_POOL_ADDRESS && 'STAKING_POOL_ADDRESS'].filter(Boolean);
  return missing.length > 0 ? `not configured: set ${missing.join(' and ')}` : null;
}

export function dbChainLimitsFrom(settings: Settings, overrides: Partial<DbChainLimits> = {}): DbChainLimits {
  const confirmations = overrides.confirmations ?? settings.CHAIN_CONFIRMATIONS;
  return {
    ...defaultDbChainLimits,
    graceMs: settings.RECON_GRACE_MS,
    pollMs: settings.CHAIN_POLL_MS,
    confirmations,
    // The rewind window must reach well past the confirmation depth.
    windowBlocks: Math.max(defaultDbChainLimits.windowBlocks, confirmations * 4),
    ...overrides,
  };
}

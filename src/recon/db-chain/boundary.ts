import { StakingPoolRpc } from '../../adapters/chain/staking-pool-rpc.js';
import type { BoundaryDefinition, ConfigProblem } from '../boundary-definition.js';
import { dbChainBoundary } from './checkpoint.js';
import { dbChainDisabledReason } from './limits.js';
import { startDbChainReconciler } from './reconciler.js';

const probeTimeoutMs = 5_000;

/** Ledger ↔ StakingPool on chain (docs/chain-staking.md). */
export const dbChainDefinition: BoundaryDefinition = {
  name: dbChainBoundary,
  disabledReason: dbChainDisabledReason,
  async validate(settings, log) {
    const problems: ConfigProblem[] = [];
    if (!!settings.ETH_RPC_URL !== !!settings.STAKING_POOL_ADDRESS) {
      const missing = settings.ETH_RPC_URL ? 'STAKING_POOL_ADDRESS' : 'ETH_RPC_URL';
      return [{ setting: missing, message: 'db_chain is half configured: set both ETH_RPC_URL and STAKING_POOL_ADDRESS, or neither' }];
    }
    if (!settings.ETH_RPC_URL || !settings.STAKING_POOL_ADDRESS) return problems;
    // A node that does not answer now may later (reported as an `unreachable` break); a node
    // that answers and has no contract at the address never will: that stops start-up.
    let rpc: StakingPoolRpc;
    try {
      rpc = await StakingPoolRpc.connect({ url: settings.ETH_RPC_URL, poolAddress: settings.STAKING_POOL_ADDRESS, timeoutMs: probeTimeoutMs });
    } catch (error) {
      log.warn({ event: 'config.chain_unreachable', err: (error as Error).message }, 'ETH_RPC_URL does not answer at start; db_chain will report it as unreachable');
      return problems;
    }
    try {
      if (!(await rpc.poolHasCode())) {
        problems.push({ setting: 'STAKING_POOL_ADDRESS', message: `no contract at ${settings.STAKING_POOL_ADDRESS} on chain ${rpc.chainId} (ETH_RPC_URL ${settings.ETH_RPC_URL})` });
      }
    } catch (error) {
      log.warn({ event: 'config.chain_probe_failed', err: (error as Error).message }, 'could not check the staking pool at start');
    } finally {
      rpc.destroy();
    }
    return problems;
  },
  start: (deps) => startDbChainReconciler(deps),
};

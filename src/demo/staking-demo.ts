import type { AnvilHandle } from '../embedded/anvil.js';
import { Interface } from 'ethers';
import { loadStakingPoolArtifact } from '../adapters/chain/index.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../observability/logger.js';

export interface StakingDemoDeps {
  anvil: AnvilHandle;
  poolAddress: string;
  pool: Pool;
  log: Logger;
  users: readonly string[];
}

const stakeEveryMs = 7_000;
const stakersMax = 5;
const gas = '0x30000';

/**
 * The platform's staking service, simulated for the demo: users stake from anvil's funded
 * dev accounts, and each confirmed-or-not stake is credited to staking_positions at
 * inclusion, as a staking service would. db_chain sees both sides.
 */
export async function startStakingDemo(deps: StakingDemoDeps): Promise<{ stop(): Promise<void> }> {
  const accounts = (await deps.anvil.rpc<string[]>('eth_accounts')).slice(1, 1 + stakersMax);
  const pool = new Interface(loadStakingPoolArtifact().abi as never[]);
  let round = 0;
  let running: Promise<void> = Promise.resolve();
  const stakeOnce = async (): Promise<void> => {
    round++;
    const index = round % accounts.length;
    const address = accounts[index];
    const userId = deps.users[index];
    if (!address || !userId) return;
    const tokens = BigInt(1 + (round % 5));
    const data = pool.encodeFunctionData('stake', [tokens * 10n ** 18n]);
    await deps.anvil.rpc<string>('eth_sendTransaction', [{ from: address, to: deps.poolAddress, data, gas }]);
    await deps.pool.query(
      `INSERT INTO staking_positions (user_id, address, amount, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (user_id, address) DO UPDATE SET amount = staking_positions.amount + EXCLUDED.amount, updated_at = now()`,
      [userId, address.toLowerCase(), tokens.toString()],
    );
    deps.log.info({ event: 'demo.staked', userId, address, tokens: tokens.toString() }, `demo: ${userId} staked ${tokens} tokens`);
  };
  const timer = setInterval(() => {
    running = running.then(stakeOnce).catch((error: unknown) => deps.log.warn({ event: 'demo.stake_failed', err: (error as Error).message }, 'demo stake failed'));
  }, stakeEveryMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

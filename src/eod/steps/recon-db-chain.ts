import { JsonRpcProvider } from 'ethers';
import { minorToDecimal, signedDecimalToMinor } from '../../config/decimal.js';
import { StakingPoolRpc } from '../../adapters/chain/index.js';
import { dbChainDisabledReason } from '../../recon/db-chain/index.js';
import { moneyScale } from '../cut-balances.js';
import { EodStepFailure, type CutBreak, type EodStep } from './step.js';

const whole = (m: bigint): string => minorToDecimal(m, moneyScale);
const rpcTimeoutMs = 10_000;
const headWaitMs = 1_000;

/**
 * Step 8, the db_chain seal at the cut: totalStaked() at the last block with a timestamp before
 * the cutover (once it has CHAIN_CONFIRMATIONS confirmations and a later block exists, so it is
 * truly the last), against Σ staking_positions as of the cut (the last version of each position
 * with updated_at before it, from staking_position_history). Tokens and base units are both 10^18.
 */
export const reconDbChainStep: EodStep = {
  name: 'recon_db_chain',
  skipReason: (settings) => dbChainDisabledReason(settings),
  async run(context) {
    const { settings } = context;
    const url = settings.ETH_RPC_URL as string;
    const rpc = await StakingPoolRpc.connect({ url, poolAddress: settings.STAKING_POOL_ADDRESS as string, timeoutMs: rpcTimeoutMs });
    const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 1 });
    try {
      const endSec = Math.floor(context.window.endMs / 1000);
      const timestampOf = async (n: number): Promise<number> => {
        const block = await provider.getBlock(n);
        if (!block) throw new EodStepFailure(`block ${n} is missing on the node`);
        return block.timestamp;
      };
      const firstAtOrAfterCut = async (head: number): Promise<number> => {
        let lo = 0;
        let hi = head;
        while (lo < hi) {
          const mid = Math.floor((lo + hi) / 2);
          if ((await timestampOf(mid)) >= endSec) hi = mid;
          else lo = mid + 1;
        }
        return lo;
      };
      // Wait until a block at or after the cutover exists and the last one before it is confirmed.
      let cutNumber: number;
      for (;;) {
        const head = await rpc.headNumber();
        if ((await timestampOf(head)) >= endSec) {
          cutNumber = (await firstAtOrAfterCut(head)) - 1;
          if (cutNumber <= head - settings.CHAIN_CONFIRMATIONS) break;
        }
        if (context.signal.aborted) throw new EodStepFailure(`the chain has no confirmed block past the cutover yet (head ${head})`);
        await new Promise((resolve) => setTimeout(resolve, headWaitMs));
      }
      // A chain whose first block is after the cutover held nothing at the cut.
      const cutBlock = cutNumber >= 0 ? await rpc.requireBlock(cutNumber) : null;
      const chainTotalBase = cutBlock && (await rpc.hasCode(cutBlock.number)) ? await rpc.totalStaked(cutBlock.number) : 0n;
      const positions = await context.pool.query<{ total: string | null; positions: string }>(
        `SELECT sum(amount)::text AS total, count(*) FILTER (WHERE amount <> 0)::text AS positions FROM (
           SELECT DISTINCT ON (user_id, address) amount FROM staking_position_history
            WHERE updated_at < $1 ORDER BY user_id, address, id DESC) AS at_cut`,
        [new Date(context.window.endMs).toISOString()]);
      const dbMinor = signedDecimalToMinor(positions.rows[0]?.total ?? '0', moneyScale);
      const breaks: CutBreak[] = dbMinor === chainTotalBase ? [] : [{
        boundary: 'db_chain', kind: 'total', currency: 'STAKE', left: whole(dbMinor), right: whole(chainTotalBase), delta: whole(dbMinor - chainTotalBase),
      }];
      return {
        figures: {
          block: cutBlock ? { number: cutBlock.number, hash: cutBlock.hash, timestamp: new Date((await timestampOf(cutBlock.number)) * 1000).toISOString() } : null,
          confirmations: settings.CHAIN_CONFIRMATIONS,
          positionsTotal: whole(dbMinor),
          positions: Number(positions.rows[0]?.positions ?? 0),
          totalStaked: whole(chainTotalBase),
          delta: whole(dbMinor - chainTotalBase),
          breaks: breaks.length,
        },
        breaks,
      };
    } finally {
      provider.destroy();
      rpc.destroy();
    }
  },
};

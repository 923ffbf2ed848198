/**
 * A real anvil with the project's StakingPool deployed on it, and the moves tests make:
 * stake / unstake from anvil's funded dev accounts, mine, reorg.
 */
import { Interface, JsonRpcProvider, Network } from 'ethers';
import { deployStakingPool, loadStakingPoolArtifact } from '../../../src/adapters/chain/staking-pool-artifact.js';
import { startAnvil, type AnvilHandle } from '../../../src/embedded/anvil.js';
import { silentLogger } from '../../support/log.js';

export const token = 10n ** 18n;
const gas = '0x30000';

export interface PoolTx {
  from: string;
  fn: 'stake' | 'unstake';
  amountBase: bigint;
}

export interface PoolOnAnvil {
  anvil: AnvilHandle;
  /** Checksummed; the reconciler lower-cases. */
  address: string;
  deployBlock: number;
  /** anvil's ten funded, unlocked dev accounts (lower-case). */
  accounts: string[];
  send(tx: PoolTx): Promise<{ blockNumber: number; blockHash: string }>;
  stakedOf(address: string): Promise<bigint>;
  totalStaked(): Promise<bigint>;
  mine(blocks: number): Promise<void>;
  head(): Promise<number>;
  blockHash(number: number): Promise<string>;
  /** anvil_reorg: replaces the last `depth` blocks; each tx lands in the new block at `offset` (0-based). */
  reorg(depth: number, txs: Array<PoolTx & { offset: number }>): Promise<void>;
  stop(): Promise<void>;
}

export async function startPoolOnAnvil(): Promise<PoolOnAnvil> {
  const anvil = await startAnvil({ log: silentLogger() });
  try {
    const artifact = loadStakingPoolArtifact();
    const abi = new Interface(artifact.abi as never[]);
    const network = Network.from(anvil.chainId);
    const provider = new JsonRpcProvider(anvil.url, network, { staticNetwork: network });
    const accounts = (await anvil.rpc<string[]>('eth_accounts')).map((a) => a.toLowerCase());
    const deployer = await provider.getSigner(accounts[0]);
    const deployed = await deployStakingPool(deployer, artifact);
    provider.destroy();
    const address = deployed.address;
    const call = async (data: string): Promise<bigint> => BigInt(await anvil.rpc<string>('eth_call', [{ to: address, data }, 'latest']));
    const request = (tx: PoolTx) => ({ from: tx.from, to: address, data: abi.encodeFunctionData(tx.fn, [tx.amountBase]), gas });
    return {
      anvil,
      address,
      deployBlock: deployed.blockNumber,
      accounts,
      async send(tx) {
        const hash = await anvil.rpc<string>('eth_sendTransaction', [request(tx)]);
        // Automine mines right after the call returns, not before: the receipt may take a moment.
        const receipt = await until(`receipt of ${hash}`, () => anvil.rpc<{ status: string; blockNumber: string; blockHash: string } | null>('eth_getTransactionReceipt', [hash]), 5_000);
        if (receipt.status !== '0x1') throw new Error(`${tx.fn} from ${tx.from} failed: ${JSON.stringify(receipt)}`);
        return { blockNumber: Number(receipt.blockNumber), blockHash: receipt.blockHash };
      },
      stakedOf: (staker) => call(abi.encodeFunctionData('stakedOf', [staker])),
      totalStaked: () => call(abi.encodeFunctionData('totalStaked', [])),
      async mine(blocks) {
        await anvil.rpc('anvil_mine', [`0x${blocks.toString(16)}`]);
      },
      head: async () => Number(await anvil.rpc<string>('eth_blockNumber')),
      async blockHash(number) {
        const block = await anvil.rpc<{ hash: string } | null>('eth_getBlockByNumber', [`0x${number.toString(16)}`, false]);
        if (!block) throw new Error(`no block ${number}`);
        return block.hash;
      },
      async reorg(depth, txs) {
        await anvil.rpc('anvil_reorg', [depth, txs.map((tx) => [request(tx), tx.offset])]);
      },
      stop: () => anvil.stop(),
    };
  } catch (error) {
    await anvil.stop();
    throw error;
  }
}

/** Polls `probe` until it returns something truthy. */
export async function until<T>(what: string, probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

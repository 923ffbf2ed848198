import { FetchRequest, JsonRpcProvider, Network, toQuantity } from 'ethers';
import { z } from 'zod';
import {
  addressSchema, blockNumberSchema, chainIdSchema, ChainValueError, hexDataSchema, parseChainValue, rpcBlockSchema, rpcLogSchema, uint256Schema,
  type BlockRef, type RpcLog,
} from './chain-values.js';
import { stakedTopic, stakingPoolInterface, totalStakedCallData, unstakedTopic } from './staking-pool-interface.js';

/** One Staked (+) or Unstaked (−) log, decoded and checked: a change of one staker's stake. */
export interface StakingDelta {
  blockNumber: number;
  blockHash: string;
  logIndex: number;
  txHash: string;
  /** Lower-case 0x address. */
  staker: string;
  /** Base units (10^18 per token), signed: + staked, − unstaked. */
  amountBase: bigint;
}

export interface StakingPoolRpcOptions {
  url: string;
  /** 0x address of any contract with the StakingPool interface. */
  poolAddress: string;
  /** Per request; ethers' default (5 min) would stall a poll for that long. */
  timeoutMs: number;
}

const rpcEnvelope = z.union([
  z.object({ result: z.unknown() }),
  z.object({ error: z.object({ code: z.number(), message: z.string() }) }),
]);

/**
 * The chain as the db_chain reconciler reads it: head number, block hashes, StakingPool logs
 * and totalStaked() at a block, over ethers' JsonRpcProvider. The chain id is read once with
 * a bare request and then fixed (staticNetwork), so ethers never retries network detection
 * in the background; every answer is parsed with zod (chain-values.ts) before it is returned.
 */
export class StakingPoolRpc {
  private constructor(
    private readonly provider: JsonRpcProvider,
    readonly chainId: bigint,
    /** Lower-case. */
    readonly poolAddress: string,
  ) {}

  static async connect(options: StakingPoolRpcOptions): Promise<StakingPoolRpc> {
    const poolAddress = parseChainValue(addressSchema, options.poolAddress, 'STAKING_POOL_ADDRESS');
    const request = new FetchRequest(options.url);
    request.timeout = options.timeoutMs;
    const chainId = await bareChainId(request);
    const network = Network.from(chainId);
    const provider = new JsonRpcProvider(request, network, { staticNetwork: network, batchMaxCount: 1, batchStallTime: 0, cacheTimeout: -1 });
    return new StakingPoolRpc(provider, chainId, poolAddress);
  }

  destroy(): void {
    this.provider.destroy();
  }

  /** Whether the pool address holds contract code at the head (a wrong address or chain has none). */
  async poolHasCode(): Promise<boolean> {
    const code = parseChainValue(hexDataSchema, await this.provider.send('eth_getCode', [this.poolAddress, 'latest']), 'eth_getCode');
    return code !== '0x';
  }

  async headNumber(): Promise<number> {
    return parseChainValue(blockNumberSchema, await this.provider.send('eth_blockNumber', []), 'eth_blockNumber');
  }

  /** The block at `number` on the node's canonical chain, or null if it has none (yet). */
  async block(number: number): Promise<BlockRef | null> {
    const raw: unknown = await this.provider.send('eth_getBlockByNumber', [toQuantity(number), false]);
    if (raw === null) return null;
    const block = parseChainValue(rpcBlockSchema, raw, `eth_getBlockByNumber(${number})`);
    if (block.number !== number) throw new ChainValueError(`eth_getBlockByNumber(${number}) answered block ${block.number}`);
    return block;
  }

  /** Like block(), but a missing block is an error (it was there a moment ago). */
  async requireBlock(number: number): Promise<BlockRef> {
    const block = await this.block(number);
    if (!block) throw new ChainValueError(`block ${number} is missing on the node`);
    return block;
  }

  /** Staked/Unstaked logs of the pool in [fromBlock, toBlock], in chain order. */
  async stakingDeltas(fromBlock: number, toBlock: number): Promise<StakingDelta[]> {
    const raw: unknown = await this.provider.send('eth_getLogs', [{
      address: this.poolAddress,
      fromBlock: toQuantity(fromBlock),
      toBlock: toQuantity(toBlock),
      topics: [[stakedTopic, unstakedTopic]],
    }]);
    const logs = parseChainValue(z.array(rpcLogSchema), raw, `eth_getLogs(${fromBlock}..${toBlock})`);
    const deltas = logs.map((log) => this.decode(log, fromBlock, toBlock));
    return deltas.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
  }

  /** totalStaked() at `blockNumber`, in base units. */
  async totalStaked(blockNumber: number): Promise<bigint> {
    const raw: unknown = await this.provider.send('eth_call', [{ to: this.poolAddress, data: totalStakedCallData }, toQuantity(blockNumber)]);
    const data = parseChainValue(hexDataSchema, raw, `totalStaked() at ${blockNumber}`);
    if (data.length !== 66) throw new ChainValueError(`totalStaked() at ${blockNumber}: expected one uint256, got ${data.length > 2 ? `${(data.length - 2) / 2} bytes` : 'no data (no contract there?)'}`);
    const [total] = stakingPoolInterface.decodeFunctionResult('totalStaked', data);
    return parseChainValue(uint256Schema, total, `totalStaked() at ${blockNumber}`);
  }

  /** Whether the pool has code at `blockNumber` (it is deployed there). */
  async hasCode(blockNumber: number): Promise<boolean> {
    const raw: unknown = await this.provider.send('eth_getCode', [this.poolAddress, toQuantity(blockNumber)]);
    return parseChainValue(hexDataSchema, raw, `eth_getCode at ${blockNumber}`) !== '0x';
  }

  private decode(log: RpcLog, fromBlock: number, toBlock: number): StakingDelta {
    const where = `log ${log.transactionHash}#${log.logIndex}`;
    if (log.address !== this.poolAddress) throw new ChainValueError(`${where}: from ${log.address}, not the pool ${this.poolAddress}`);
    if (log.blockNumber < fromBlock || log.blockNumber > toBlock) throw new ChainValueError(`${where}: block ${log.blockNumber} outside ${fromBlock}..${toBlock}`);
    if (log.removed === true) throw new ChainValueError(`${where}: marked removed (reorg while reading)`);
    const topic = log.topics[0];
    if (log.topics.length !== 2 || (topic !== stakedTopic && topic !== unstakedTopic)) throw new ChainValueError(`${where}: not a Staked/Unstaked log`);
    const parsed = stakingPoolInterface.parseLog({ topics: log.topics, data: log.data });
    if (!parsed) throw new ChainValueError(`${where}: does not decode as Staked/Unstaked`);
    const staker = parseChainValue(addressSchema, parsed.args.getValue('staker'), `${where} staker`);
    const amount = parseChainValue(uint256Schema, parsed.args.getValue('amount'), `${where} amount`);
    return {
      blockNumber: log.blockNumber,
      blockHash: log.blockHash,
      logIndex: log.logIndex,
      txHash: log.transactionHash,
      staker,
      amountBase: topic === stakedTopic ? amount : -amount,
    };
  }
}

/** eth_chainId without a provider: the provider needs the network fixed before its first call. */
async function bareChainId(request: FetchRequest): Promise<bigint> {
  const probe = request.clone();
  probe.body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] });
  probe.setHeader('content-type', 'application/json');
  const response = await probe.send();
  response.assertOk();
  const envelope = parseChainValue(rpcEnvelope, response.bodyJson, 'eth_chainId');
  if ('error' in envelope) throw new Error(`eth_chainId: ${envelope.error.message} (${envelope.error.code})`);
  return parseChainValue(chainIdSchema, envelope.result, 'eth_chainId');
}

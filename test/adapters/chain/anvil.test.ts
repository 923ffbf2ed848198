import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANVIL_NOT_FOUND, startAnvil, startEmbeddedStakingChain, type AnvilHandle } from '../../../src/embedded/anvil.js';
import { canConnect } from '../../../src/embedded/nats-server-process.js';
import { silentLogger } from '../../support/log.js';

let anvil: AnvilHandle;
const blockNumber = async () => Number(await anvil.rpc<string>('eth_blockNumber'));
const hashAt = async (n: number) => (await anvil.rpc<{ hash: string }>('eth_getBlockByNumber', [`0x${n.toString(16)}`, false])).hash;

beforeAll(async () => {
  anvil = await startAnvil({ log: silentLogger() });
});
afterAll(async () => {
  await anvil?.stop();
});

describe('embedded anvil', () => {
  it('answers on a free 127.0.0.1 port with its chain id', async () => {
    expect(anvil.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(BigInt(await anvil.rpc<string>('eth_chainId'))).toBe(31337n);
    expect(await anvil.rpc<string[]>('eth_accounts')).toHaveLength(10);
  });

  it('supports evm_mine, anvil_mine and anvil_reorg', async () => {
    const start = await blockNumber();
    await anvil.rpc('evm_mine');
    expect(await blockNumber()).toBe(start + 1);
    await anvil.rpc('anvil_mine', ['0x5']);
    expect(await blockNumber()).toBe(start + 6);
    const before = [await hashAt(start + 4), await hashAt(start + 5), await hashAt(start + 6)];
    await anvil.rpc('anvil_reorg', [2, []]);
    expect(await blockNumber()).toBe(start + 6);
    const after = [await hashAt(start + 4), await hashAt(start + 5), await hashAt(start + 6)];
    expect(after[0]).toBe(before[0]);
    expect(after[1]).not.toBe(before[1]);
    expect(after[2]).not.toBe(before[2]);
  });

  it('stops: the port closes', async () => {
    const other = await startAnvil({ log: silentLogger() });
    await other.stop();
    await other.stop(); // idempotent
    expect(await canConnect(other.port)).toBe(false);
  });

  it('says what to do when the binary cannot run', async () => {
    await expect(startAnvil({ log: silentLogger(), binary: '/nonexistent/anvil' })).rejects.toThrow(/anvil failed to spawn/);
    expect(ANVIL_NOT_FOUND).toBe('anvil not found: install foundry (https://getfoundry.sh) or set ETH_RPC_URL');
  });
});

describe('embedded staking chain', () => {
  it('deploys the StakingPool and confirms it', async () => {
    const embedded = await startEmbeddedStakingChain({ log: silentLogger(), confirmations: 4 });
    try {
      const code = await embedded.anvil.rpc<string>('eth_getCode', [embedded.poolAddress, 'latest']);
      expect(code.length).toBeGreaterThan(2);
      expect(Number(await embedded.anvil.rpc<string>('eth_blockNumber'))).toBe(embedded.deployBlock + 4);
    } finally {
      await embedded.stop();
    }
  });
});

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnvil, type AnvilHandle } from '../../src/embedded/anvil.js';
import { silentLogger } from '../support/log.js';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** `npm start` as an operator runs it: services given (never reached: validation comes first). */
function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: projectRoot,
      env: { ...process.env, NATS_URL: 'nats://127.0.0.1:1', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

const bitgo = { BITGO_ROOT_URI: 'http://127.0.0.1:1', BITGO_ACCESS_TOKEN: 'v2x' + 'a'.repeat(64) };
let anvil: AnvilHandle;

beforeAll(async () => {
  anvil = await startAnvil({ log: silentLogger() });
});

afterAll(async () => {
  await anvil?.stop();
});

describe('boundary configuration is validated at start (exit 2, one line naming the setting)', () => {
  it.each([
    ['a coin the SDK does not know', { ...bitgo, BITGO_WALLETS: 'BTC=notacoin:w1' }, /^recon: config: BITGO_WALLETS: unknown coin "notacoin"/],
    ['the same wallet twice', { ...bitgo, BITGO_WALLETS: 'BTC=tbtc:w1,BTC=tbtc:w1' }, /^recon: config: BITGO_WALLETS: lists tbtc:w1 twice/],
    ['custody half configured', { BITGO_WALLETS: 'BTC=tbtc:w1' }, /^recon: config: BITGO_ROOT_URI: db_custody is half configured/],
    ['a tolerance for a currency with no wallet', { ...bitgo, BITGO_WALLETS: 'BTC=tbtc:w1', CUSTODY_TOLERANCES: 'ETH=0.1' }, /^recon: config: CUSTODY_TOLERANCES: ETH has no wallet/],
    ['chain half configured', { ETH_RPC_URL: 'http://127.0.0.1:1' }, /^recon: config: STAKING_POOL_ADDRESS: db_chain is half configured/],
  ])('%s', async (_name, env, line) => {
    const result = await start(env);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(line)]);
  });

  it('a node that answers but has no contract at STAKING_POOL_ADDRESS', async () => {
    const result = await start({ ETH_RPC_URL: anvil.url, STAKING_POOL_ADDRESS: '0x000000000000000000000000000000000000dEaD' });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^recon: config: STAKING_POOL_ADDRESS: no contract at 0x0+dEaD on chain 31337/)]);
  });
});

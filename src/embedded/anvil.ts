/**
 * A private `anvil` (Foundry's local Ethereum node) child process for the embedded (dev/test)
 * mode: the chain side of db_chain when no ETH_RPC_URL is given. The binary comes from the
 * npm package @foundry-rs/anvil-linux-amd64 (an optional dependency), else from PATH or
 * ~/.foundry/bin; anywhere else, one line says what to do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { JsonRpcProvider, Network } from 'ethers';
import { deployStakingPool } from '../adapters/chain/staking-pool-artifact.js';
import type { Logger } from '../observability/logger.js';
import { freePort, OutputTail } from './nats-server-process.js';
import { watchChild } from './watched-child.js';

export const ANVIL_NOT_FOUND = 'anvil not found: install foundry (https://getfoundry.sh) or set ETH_RPC_URL';

const anvilPackage = '@foundry-rs/anvil-linux-amd64';
export const anvilDefaultChainId = 31337;

export const anvilLimits = {
  readyTimeoutMs: 10_000,
  readyProbeMs: 50,
  rpcTimeoutMs: 5_000,
  stopTimeoutMs: 5_000,
  /** A free port can be taken between our probe and anvil's bind: try again on another. */
  portAttemptsMax: 3,
} as const;

export class AnvilNotFoundError extends Error {
  constructor() {
    super(ANVIL_NOT_FOUND);
  }
}

export interface StartAnvilOptions {
  log: Logger;
  /** Path of the binary; located (npm package, PATH, ~/.foundry/bin) if omitted. */
  binary?: string;
  /** TCP port on 127.0.0.1; a free one if omitted. */
  port?: number;
  chainId?: number;
  /** Seconds between blocks; omitted: a block per transaction (automine). */
  blockTimeSec?: number;
  readyTimeoutMs?: number;
}

export interface AnvilHandle {
  url: string;
  port: number;
  pid: number;
  chainId: number;
  /** One JSON-RPC call (for tests and the demo: anvil_mine, anvil_reorg, evm_mine, …); throws on an RPC error. */
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  /** SIGTERM, wait for exit (SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
}

/** The binary, or AnvilNotFoundError (message: install foundry or set ETH_RPC_URL). */
export async function locateAnvil(): Promise<string> {
  const candidates: string[] = [];
  if (process.platform === 'linux' && process.arch === 'x64') {
    try {
      const manifest = createRequire(import.meta.url).resolve(`${anvilPackage}/package.json`);
      candidates.push(path.join(path.dirname(manifest), 'bin', 'anvil'));
    } catch {
      // optional dependency not installed
    }
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) candidates.push(path.join(dir, 'anvil'));
  candidates.push(path.join(os.homedir(), '.foundry', 'bin', 'anvil'));
  for (const candidate of candidates) {
    try {
      await fs.access(candidate, fsc.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new AnvilNotFoundError();
}

export async function startAnvil(opts: StartAnvilOptions): Promise<AnvilHandle> {
  const binary = opts.binary ?? (await locateAnvil());
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      return await startOnce(binary, port, opts);
    } catch (error) {
      const portTaken = /address already in use|os error 98/i.test((error as Error).message);
      if (!portTaken || opts.port !== undefined || attempt >= anvilLimits.portAttemptsMax) throw error;
    }
  }
}

async function startOnce(binary: string, port: number, opts: StartAnvilOptions): Promise<AnvilHandle> {
  const { log } = opts;
  const chainId = opts.chainId ?? anvilDefaultChainId;
  const url = `http://127.0.0.1:${port}`;
  const args = ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(chainId), '--quiet'];
  if (opts.blockTimeSec !== undefined) args.push('--block-time', String(opts.blockTimeSec));

  const t0 = Date.now();
  const tail = new OutputTail();
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout?.on('data', (c: Buffer) => tail.push(c));
  child.stderr?.on('data', (c: Buffer) => tail.push(c));
  const watched = watchChild(child);
  // If our process dies without calling stop(), don't leave anvil running.
  const onExit = () => {
    if (!watched.exited) child.kill('SIGKILL');
  };
  process.once('exit', onExit);

  const rpc = <T>(method: string, params: unknown[] = []) => jsonRpc<T>(url, method, params);
  const failStart = async (message: string): Promise<never> => {
    process.removeListener('exit', onExit);
    if (!watched.exited && !watched.spawnError) {
      child.kill('SIGKILL');
      await watched.exit;
    }
    throw new Error(message);
  };

  // --quiet prints nothing, so readiness is an answer on our port; the chain id (ours, passed
  // on the command line) and a live child rule out someone else's node on a recycled port.
  const deadline = Date.now() + (opts.readyTimeoutMs ?? anvilLimits.readyTimeoutMs);
  for (;;) {
    if (watched.spawnError) await failStart(`anvil failed to spawn (${binary}): ${watched.spawnError.message}`);
    if (watched.exited) await failStart(`anvil exited during startup (${watched.exitInfo}) on port ${port}: ${tail.lines()}`);
    const answered = await rpc<string>('eth_chainId').catch(() => null);
    if (answered !== null && !watched.exited) {
      if (BigInt(answered) !== BigInt(chainId)) await failStart(`127.0.0.1:${port} answers with chain id ${BigInt(answered)}, not our anvil's ${chainId}`);
      break;
    }
    if (Date.now() > deadline) await failStart(`anvil did not answer on ${url} within ${opts.readyTimeoutMs ?? anvilLimits.readyTimeoutMs} ms: ${tail.lines()}`);
    await new Promise((r) => setTimeout(r, anvilLimits.readyProbeMs));
  }

  const pid = child.pid ?? -1;
  log.info({ event: 'anvil.started', url, pid, chainId, ms: Date.now() - t0 }, 'anvil started');
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    pid,
    chainId,
    rpc,
    stop() {
      stopping ??= (async () => {
        await watched.terminate([['SIGTERM', 0], ['SIGKILL', anvilLimits.stopTimeoutMs]]);
        process.removeListener('exit', onExit);
        log.info({ event: 'anvil.stopped', url, pid }, 'anvil stopped');
      })();
      return stopping;
    },
  };
}

export interface EmbeddedStakingChain {
  anvil: AnvilHandle;
  /** For STAKING_POOL_ADDRESS (checksummed). */
  poolAddress: string;
  deployBlock: number;
  stop(): Promise<void>;
}

/**
 * The embedded default's chain (docs/contract.md §6): an anvil with the project's
 * StakingPool deployed by dev account 0, and `confirmations` blocks mined on top so the
 * pool is confirmed from the first poll (else db_chain would report it missing meanwhile).
 * Set ETH_RPC_URL to the anvil's url and STAKING_POOL_ADDRESS to poolAddress.
 */
export async function startEmbeddedStakingChain(opts: StartAnvilOptions & { confirmations: number }): Promise<EmbeddedStakingChain> {
  const anvil = await startAnvil(opts);
  try {
    const network = Network.from(anvil.chainId);
    const provider = new JsonRpcProvider(anvil.url, network, { staticNetwork: network });
    try {
      const [deployer] = await anvil.rpc<string[]>('eth_accounts');
      if (!deployer) throw new Error('anvil has no dev accounts');
      const deployed = await deployStakingPool(await provider.getSigner(deployer));
      if (opts.confirmations > 0) await anvil.rpc('anvil_mine', [`0x${opts.confirmations.toString(16)}`]);
      opts.log.info({ event: 'anvil.staking_pool_deployed', poolAddress: deployed.address, block: deployed.blockNumber }, 'StakingPool deployed on the embedded anvil');
      return { anvil, poolAddress: deployed.address, deployBlock: deployed.blockNumber, stop: () => anvil.stop() };
    } finally {
      provider.destroy();
    }
  } catch (error) {
    await anvil.stop();
    throw error;
  }
}

/** A bare JSON-RPC call with a timeout (no provider: used before anything else exists). */
async function jsonRpc<T>(url: string, method: string, params: unknown[]): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(anvilLimits.rpcTimeoutMs),
  });
  const body = (await response.json()) as { result?: T; error?: { code: number; message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message} (${body.error.code})`);
  return body.result as T;
}

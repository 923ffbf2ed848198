/**
 * Compiles contracts/StakingPool.sol with solc-js (the npm `solc`, pinned in package.json)
 * through its standard-JSON interface, and describes the committed artifact
 * contracts/StakingPool.json. Shared by the build script and the test that fails CI when
 * the artifact is stale (docs/chain-staking.md).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const contractName = 'StakingPool';
export const sourcePath = 'contracts/StakingPool.sol';
export const artifactPath = 'contracts/StakingPool.json';

/** Fixed so the bytecode is reproducible; cancun is live on mainnet and every major testnet. */
export const compilerSettings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  metadata: { bytecodeHash: 'ipfs' },
} as const;

export interface StakingPoolArtifact {
  contractName: string;
  sourcePath: string;
  sourceSha256: string;
  compiler: { name: 'solc-js'; version: string };
  settings: typeof compilerSettings;
  abi: unknown[];
  bytecode: string;
  deployedBytecode: string;
}

const repoRootUrl = new URL('../', import.meta.url);
export const repoPath = (relative: string): string => fileURLToPath(new URL(relative, repoRootUrl));

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

interface SolcOutput {
  errors?: Array<{ severity: 'error' | 'warning' | 'info'; formattedMessage: string }>;
  contracts?: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>>;
}

/** Compiles the source text; throws with solc's messages on any error (warnings are errors too: keep it clean). */
export function compileStakingPool(source: string = readFileSync(repoPath(sourcePath), 'utf8')): StakingPoolArtifact {
  // solc is CommonJS and loads a 10 MB emscripten build: required lazily, only by the build and its test.
  const solc = createRequire(import.meta.url)('solc') as { version(): string; compile(input: string): string };
  const input = {
    language: 'Solidity',
    sources: { [sourcePath]: { content: source } },
    settings: { ...compilerSettings, outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } } },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const problems = (output.errors ?? []).filter((e) => e.severity !== 'info');
  if (problems.length > 0) throw new Error(`solc: ${sourcePath}:\n${problems.map((e) => e.formattedMessage).join('\n')}`);
  const compiled = output.contracts?.[sourcePath]?.[contractName];
  if (!compiled) throw new Error(`solc: no ${contractName} in the output for ${sourcePath}`);
  return {
    contractName,
    sourcePath,
    sourceSha256: sha256Hex(source),
    compiler: { name: 'solc-js', version: solc.version() },
    settings: compilerSettings,
    abi: compiled.abi,
    bytecode: `0x${compiled.evm.bytecode.object}`,
    deployedBytecode: `0x${compiled.evm.deployedBytecode.object}`,
  };
}

/** The artifact as committed: stable key order, two-space indent, trailing newline. */
export function artifactText(artifact: StakingPoolArtifact): string {
  return `${JSON.stringify(artifact, null, 2)}\n`;
}

import { readFileSync } from 'node:fs';
import { ContractFactory, type Signer } from 'ethers';
import { z } from 'zod';

/**
 * contracts/StakingPool.json, the committed build of contracts/StakingPool.sol
 * (`npm run build:contracts`; a test fails when it is stale). The reconciler does not need
 * it (it reads any contract with the interface, staking-pool-interface.ts); the embedded
 * mode, the demo and the tests deploy the project's own pool from it.
 */
export const stakingPoolArtifactUrl = new URL('../../../contracts/StakingPool.json', import.meta.url);

const hexCode = z.string().regex(/^0x([0-9a-f]{2})+$/, 'not hex bytecode');

export const stakingPoolArtifactSchema = z.object({
  contractName: z.literal('StakingPool'),
  sourcePath: z.string(),
  sourceSha256: z.string().regex(/^[0-9a-f]{64}$/),
  compiler: z.object({ name: z.literal('solc-js'), version: z.string().min(1) }),
  settings: z.record(z.string(), z.unknown()),
  abi: z.array(z.record(z.string(), z.unknown())).min(1),
  bytecode: hexCode,
  deployedBytecode: hexCode,
});
export type StakingPoolArtifactFile = z.infer<typeof stakingPoolArtifactSchema>;

export function loadStakingPoolArtifact(url: URL = stakingPoolArtifactUrl): StakingPoolArtifactFile {
  return stakingPoolArtifactSchema.parse(JSON.parse(readFileSync(url, 'utf8')));
}

export interface DeployedPool {
  /** Checksummed 0x address. */
  address: string;
  blockNumber: number;
  txHash: string;
}

/** Deploys the project's StakingPool with `signer` and waits for its receipt. */
export async function deployStakingPool(signer: Signer, artifact: StakingPoolArtifactFile = loadStakingPoolArtifact()): Promise<DeployedPool> {
  const contract = await new ContractFactory(artifact.abi as never[], artifact.bytecode, signer).deploy();
  const tx = contract.deploymentTransaction();
  const receipt = await tx?.wait();
  if (!tx || !receipt || receipt.status !== 1) throw new Error('StakingPool deployment failed');
  return { address: await contract.getAddress(), blockNumber: receipt.blockNumber, txHash: tx.hash };
}

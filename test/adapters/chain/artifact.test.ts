import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadStakingPoolArtifact } from '../../../src/adapters/chain/staking-pool-artifact.js';
import { stakingPoolInterface } from '../../../src/adapters/chain/staking-pool-interface.js';
import { artifactPath, artifactText, compileStakingPool, repoPath, sha256Hex, sourcePath } from '../../../scripts/contract-build.js';

describe('contracts/StakingPool.json', () => {
  it('is what solc makes of contracts/StakingPool.sol today (a stale artifact fails here: npm run build:contracts)', () => {
    const source = readFileSync(repoPath(sourcePath), 'utf8');
    const committed = loadStakingPoolArtifact();
    expect(committed.sourceSha256, 'the source changed since the artifact was built').toBe(sha256Hex(source));
    const fresh = compileStakingPool(source);
    expect(committed.compiler.version).toBe(fresh.compiler.version);
    expect(committed.bytecode).toBe(fresh.bytecode);
    expect(committed.deployedBytecode).toBe(fresh.deployedBytecode);
    expect(committed.abi).toEqual(fresh.abi);
    expect(readFileSync(repoPath(artifactPath), 'utf8')).toBe(artifactText(fresh));
  }, 30_000);

  it('implements the interface the reconciler reads (docs/contract.md §7)', () => {
    const { abi } = loadStakingPoolArtifact();
    const names = abi.map((item) => `${String(item.type)} ${String(item.name)}`);
    for (const fragment of stakingPoolInterface.fragments) {
      expect(names).toContain(`${fragment.type} ${'name' in fragment ? String(fragment.name) : ''}`);
    }
    const staked = abi.find((item) => item.name === 'Staked');
    expect(staked).toMatchObject({ type: 'event', inputs: [{ name: 'staker', type: 'address', indexed: true }, { name: 'amount', type: 'uint256', indexed: false }] });
    expect(abi.find((item) => item.name === 'totalStaked')).toMatchObject({ stateMutability: 'view', outputs: [{ type: 'uint256' }] });
  });
});

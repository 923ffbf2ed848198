import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decimalToMinor } from '../../src/config/decimal.js';
import { recomputeRoot, verifyProof, type InclusionProof } from '../../src/eod/proof/verify-proof.js';
import { testVectorsText, type TestVectors } from '../../src/eod/proof/test-vectors.js';
import { modelCommitment, modelLeafHash, modelRoot } from './spec-model.js';

const text = readFileSync(new URL('../../docs/proof-test-vectors.json', import.meta.url), 'utf8');
const vectors = JSON.parse(text) as TestVectors;

describe('docs/proof-test-vectors.json', () => {
  it('holds trees of 1, 2, 3 and 5 leaves', () => {
    expect(vectors.trees.map((t) => t.leaves.length)).toEqual([1, 2, 3, 5]);
  });

  it('every proof verifies with the standalone verifier alone, against its tree root and total', () => {
    for (const tree of vectors.trees) {
      expect(tree.proofs).toHaveLength(tree.leaves.length);
      for (const proof of tree.proofs) {
        const verdict = verifyProof(proof, { report: { date: tree.date, liabilities: [{ currency: tree.currency, rootHash: tree.rootHash, total: tree.total }] } });
        if (!verdict.ok) throw new Error(`${tree.name} ${proof.userId}: ${verdict.reason}`);
        const recomputed = recomputeRoot(proof as InclusionProof);
        expect(recomputed).toEqual({ rootHash: tree.rootHash, totalMinor: decimalToMinor(tree.total, 18) });
        const leaf = tree.leaves.find((l) => l.userId === proof.userId)!;
        expect(proof.balance).toBe(leaf.balance);
        expect(proof.salt).toBe(leaf.salt);
        expect(proof.leafIndex).toBe(tree.leafOrder.indexOf(proof.userId));
      }
    }
  });

  it('every root, commitment, leaf hash and leaf order agrees with the spec written out in the test', () => {
    for (const tree of vectors.trees) {
      const leaves = tree.leaves.map((l) => ({ userId: l.userId, balanceMinor: decimalToMinor(l.balance, 18), saltHex: l.salt }));
      for (const l of tree.leaves) {
        expect(l.commitment).toBe(modelCommitment(l.salt, l.userId));
        expect(l.leafHash).toBe(modelLeafHash(l.salt, l.userId, decimalToMinor(l.balance, 18)));
      }
      const model = modelRoot(leaves, (level) => tree.paddingSalts[String(level)] ?? 'missing');
      expect(model.rootHash).toBe(tree.rootHash);
      expect(model.total).toBe(decimalToMinor(tree.total, 18));
      expect(model.paddedLevels.map(String)).toEqual(Object.keys(tree.paddingSalts));
      expect(tree.leafOrder).toEqual([...tree.leaves].sort((a, b) => (a.commitment < b.commitment ? -1 : 1)).map((l) => l.userId));
    }
  });

  it('is what the builder produces today (regenerate with npx tsx scripts/proof-test-vectors.ts)', () => {
    expect(testVectorsText()).toBe(text);
  });
});

describe('the Python verifier in docs/proof-of-liabilities.md', () => {
  const python = spawnSync('python3', ['--version']);
  it.skipIf(python.status !== 0)('accepts every test-vector proof and rejects one with the balance one minor unit off', () => {
    const doc = readFileSync(new URL('../../docs/proof-of-liabilities.md', import.meta.url), 'utf8');
    const script = /```python\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(script).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'recon-pyproof-'));
    try {
      writeFileSync(join(dir, 'verify.py'), script!);
      const run = (proof: unknown): string => {
        writeFileSync(join(dir, 'proof.json'), JSON.stringify(proof));
        return spawnSync('python3', [join(dir, 'verify.py'), join(dir, 'proof.json')], { encoding: 'utf8' }).stdout.trim();
      };
      for (const tree of vectors.trees) for (const proof of tree.proofs) expect(run(proof)).toBe('OK');
      const bob = vectors.trees[3]!.proofs.find((p) => p.userId === 'bob')!;
      expect(run({ ...bob, balance: '0.000000000000000002' })).toBe('MISMATCH');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

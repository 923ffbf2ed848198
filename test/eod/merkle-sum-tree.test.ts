import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildMerkleSumTree,
  generateSalt,
  NegativeBalanceError,
  paddingSaltsFromSeed,
  SumOverflowError,
  verifyProof,
  type MerkleSumLeafInput,
} from '../../src/eod/proof/index.js';
import { modelCommitment, modelLeafHash, modelNodeHash, modelRoot } from './spec-model.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const bytes = (hexText: string): Uint8Array => Uint8Array.from(Buffer.from(hexText, 'hex'));
const saltFor = (label: string): Uint8Array => bytes(createHash('sha256').update(label).digest('hex'));
const fixedPadding = (level: number): Uint8Array => saltFor(`padding-${level}`);
const context = { date: '2026-11-30', currency: 'BTC' };
const unit = 10n ** 18n;

function leavesOf(balances: bigint[]): MerkleSumLeafInput[] {
  return balances.map((balanceMinor, i) => ({ userId: `u${i}`, balanceMinor, salt: saltFor(`salt-u${i}`) }));
}

describe('Merkle-sum tree (docs/contract.md §10)', () => {
  it('a one-leaf tree: the root is the leaf, the path is empty, no padding', () => {
    const paddingLevels: number[] = [];
    const salt = saltFor('solo');
    const tree = buildMerkleSumTree([{ userId: 'alice', balanceMinor: 5n * unit, salt }], {
      paddingSalt: (level) => (paddingLevels.push(level), fixedPadding(level)),
    });
    expect(tree.rootHash).toBe(modelLeafHash(hex(salt), 'alice', 5n * unit));
    expect(tree.totalMinor).toBe(5n * unit);
    expect(tree.leafCount).toBe(1);
    expect(paddingLevels).toEqual([]);
    const proof = tree.proofFor('alice', context);
    expect(proof).toEqual({ ...context, userId: 'alice', balance: '5', salt: hex(salt), leafIndex: 0, path: [], rootHash: tree.rootHash, total: '5' });
    expect(verifyProof(proof)).toMatchObject({ ok: true });
  });

  it('two leaves: the node hashes the commitment-ordered children with their u128 sums', () => {
    const a = { userId: 'alice', balanceMinor: 1n, salt: saltFor('a') };
    const b = { userId: 'bob', balanceMinor: 2n * unit + 3n, salt: saltFor('b') };
    const tree = buildMerkleSumTree([a, b], { paddingSalt: fixedPadding });
    const [first, second] = modelCommitment(hex(a.salt), a.userId) < modelCommitment(hex(b.salt), b.userId) ? [a, b] : [b, a];
    const expected = modelNodeHash(
      modelLeafHash(hex(first.salt), first.userId, first.balanceMinor), first.balanceMinor,
      modelLeafHash(hex(second.salt), second.userId, second.balanceMinor), second.balanceMinor,
    );
    expect(tree.rootHash).toBe(expected);
    expect(tree.totalMinor).toBe(2n * unit + 4n);
    expect(tree.total).toBe('2.000000000000000004');
    expect(tree.leafIndexOf(first.userId)).toBe(0);
    expect(tree.leafIndexOf(second.userId)).toBe(1);
    const proof = tree.proofFor('bob', context);
    expect(proof?.balance).toBe('2.000000000000000003');
    expect(proof?.total).toBe('2.000000000000000004');
    expect(proof?.path).toEqual([{ hash: modelLeafHash(hex(a.salt), 'alice', 1n), sum: '0.000000000000000001' }]);
  });

  it('pads every odd level with a balance-0 leaf whose salt the caller gives (2^k + 1 leaves pad levels 0..k-1)', () => {
    for (const k of [1, 2, 3, 4, 5]) {
      const asked: number[] = [];
      const leaves = leavesOf(Array.from({ length: 2 ** k + 1 }, (_, i) => BigInt(i + 1)));
      const tree = buildMerkleSumTree(leaves, { paddingSalt: (level) => (asked.push(level), fixedPadding(level)) });
      const model = modelRoot(leaves.map((l) => ({ userId: l.userId, balanceMinor: l.balanceMinor, saltHex: hex(l.salt as Uint8Array) })), (level) => hex(fixedPadding(level)));
      expect(asked).toEqual(Array.from({ length: k }, (_, i) => i));
      expect(model.paddedLevels).toEqual(asked);
      expect(tree.rootHash).toBe(model.rootHash);
      expect(tree.levelCount).toBe(k + 2);
      // The last leaf sits beside the padding leaf at every padded level: its path shows it.
      const lastUser = leaves.find((l) => tree.leafIndexOf(l.userId) === leaves.length - 1)!.userId;
      const proof = tree.proofFor(lastUser, context)!;
      expect(proof.path).toHaveLength(k + 1);
      for (const level of asked) expect(proof.path[level]).toEqual({ hash: modelLeafHash(hex(fixedPadding(level)), '', 0n), sum: '0' });
      expect(verifyProof(proof)).toMatchObject({ ok: true });
    }
  });

  it('padding leaves use the empty id and the level salt: a different padding salt changes the root', () => {
    const leaves = leavesOf([1n, 2n, 3n]);
    const a = buildMerkleSumTree(leaves, { paddingSalt: fixedPadding });
    const b = buildMerkleSumTree(leaves, { paddingSalt: (level) => saltFor(`other-${level}`) });
    expect(a.rootHash).not.toBe(b.rootHash);
    expect(a.totalMinor).toBe(b.totalMinor);
    const lastIndex = 3; // the padding leaf
    const proof = a.proofFor(leaves.find((l) => a.leafIndexOf(l.userId) === 2)!.userId, context)!;
    expect(proof.path[0]).toEqual({ hash: modelLeafHash(hex(fixedPadding(0)), '', 0n), sum: '0' });
    expect(lastIndex).toBe(proof.leafIndex + 1);
  });

  it('orders leaves by commitment, whatever the input order; the same inputs give the same root', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 10n ** 30n }), { minLength: 1, maxLength: 40 }), fc.integer(), (balances, seed) => {
        const leaves = leavesOf(balances);
        const shuffled = [...leaves].sort((x, y) => (hex(saltFor(`${seed}${x.userId}`)) < hex(saltFor(`${seed}${y.userId}`)) ? -1 : 1));
        const a = buildMerkleSumTree(leaves, { paddingSalt: fixedPadding });
        const b = buildMerkleSumTree(shuffled, { paddingSalt: fixedPadding });
        expect(b.rootHash).toBe(a.rootHash);
        const byCommitment = [...leaves].sort((x, y) => (modelCommitment(hex(x.salt as Uint8Array), x.userId) < modelCommitment(hex(y.salt as Uint8Array), y.userId) ? -1 : 1));
        byCommitment.forEach((leaf, index) => expect(a.leafIndexOf(leaf.userId)).toBe(index));
      }),
      { numRuns: 50 },
    );
  });

  it('random trees of 1..300 leaves: root and total match the spec model, every proof verifies, total = Σ balances', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: (1n << 100n) }), { minLength: 1, maxLength: 300 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (balances, seed) => {
          const leaves = balances.map((balanceMinor, i) => ({ userId: `user_${i}`, balanceMinor, salt: generateSalt() }));
          const paddingSalt = paddingSaltsFromSeed(seed);
          const tree = buildMerkleSumTree(leaves, { paddingSalt });
          const model = modelRoot(leaves.map((l) => ({ userId: l.userId, balanceMinor: l.balanceMinor, saltHex: hex(l.salt) })), (level) => hex(paddingSalt(level)));
          const sum = balances.reduce((a, b) => a + b, 0n);
          expect(tree.rootHash).toBe(model.rootHash);
          expect(tree.totalMinor).toBe(sum);
          expect(model.total).toBe(sum);
          expect(tree.leafCount).toBe(balances.length);
          for (const leaf of leaves) {
            const verdict = verifyProof(tree.proofFor(leaf.userId, context));
            if (!verdict.ok) throw new Error(`${leaf.userId}: ${verdict.reason}`);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a negative balance is never a leaf: the error names the user', () => {
    const leaves = [...leavesOf([1n, 2n]), { userId: 'carol', balanceMinor: -1n, salt: saltFor('c') }];
    expect(() => buildMerkleSumTree(leaves, { paddingSalt: fixedPadding })).toThrow(NegativeBalanceError);
    expect(() => buildMerkleSumTree(leaves, { paddingSalt: fixedPadding })).toThrow(/user carol has a negative balance \(-0\.000000000000000001\)/);
    try {
      buildMerkleSumTree(leaves, { paddingSalt: fixedPadding });
    } catch (error) {
      expect(error).toMatchObject({ userId: 'carol', balanceMinor: -1n });
    }
  });

  it('refuses a balance or a sum at or above 2^128', () => {
    expect(() => buildMerkleSumTree(leavesOf([1n << 128n]), { paddingSalt: fixedPadding })).toThrow(SumOverflowError);
    expect(() => buildMerkleSumTree(leavesOf([(1n << 128n) - 1n]), { paddingSalt: fixedPadding })).not.toThrow();
    expect(() => buildMerkleSumTree(leavesOf([1n << 127n, 1n << 127n]), { paddingSalt: fixedPadding })).toThrow(/sum of a node at level 1 is at or above 2\^128/);
    expect(() => buildMerkleSumTree(leavesOf([(1n << 127n) - 1n, 1n << 127n]), { paddingSalt: fixedPadding })).not.toThrow();
  });

  it('refuses bad input: no leaves, a duplicate user, a malformed id, a short salt or padding salt', () => {
    expect(() => buildMerkleSumTree([], { paddingSalt: fixedPadding })).toThrow(/at least one leaf/);
    expect(() => buildMerkleSumTree([...leavesOf([1n]), ...leavesOf([2n])], { paddingSalt: fixedPadding })).toThrow(/u0 appears twice/);
    expect(() => buildMerkleSumTree([{ userId: '', balanceMinor: 1n, salt: saltFor('x') }], { paddingSalt: fixedPadding })).toThrow(/userId/);
    expect(() => buildMerkleSumTree([{ userId: 'a', balanceMinor: 1n, salt: new Uint8Array(31) }], { paddingSalt: fixedPadding })).toThrow(/31 bytes/);
    expect(() => buildMerkleSumTree(leavesOf([1n, 2n, 3n]), { paddingSalt: () => new Uint8Array(16) })).toThrow(/padding salt of level 0/);
  });

  it('answers null for a user without a leaf', () => {
    const tree = buildMerkleSumTree(leavesOf([1n, 2n]), { paddingSalt: fixedPadding });
    expect(tree.proofFor('nobody', context)).toBeNull();
    expect(tree.leafIndexOf('nobody')).toBeUndefined();
  });

  it('padding salts from a seed are HMAC-SHA-256(seed, "recon-eod/padding-salt/<level>")', () => {
    const seed = saltFor('seed');
    const derive = paddingSaltsFromSeed(seed);
    for (const level of [0, 1, 7]) {
      expect(hex(derive(level))).toBe(createHmac('sha256', seed).update(`recon-eod/padding-salt/${level}`).digest('hex'));
    }
    expect(hex(derive(0))).not.toBe(hex(derive(1)));
    expect(() => paddingSaltsFromSeed(new Uint8Array(16))).toThrow(/at least 32 bytes/);
  });

  it('builds 100k leaves in seconds and proves any of them', () => {
    const n = 100_000;
    const leaves = Array.from({ length: n }, (_, i) => ({ userId: `user${i}`, balanceMinor: BigInt(i) * 1_000_000_007n, salt: generateSalt() }));
    const startedMs = performance.now();
    const tree = buildMerkleSumTree(leaves, { paddingSalt: paddingSaltsFromSeed(generateSalt()) });
    const elapsedMs = performance.now() - startedMs;
    console.log(`merkle-sum tree: ${n} leaves in ${elapsedMs.toFixed(0)} ms`);
    expect(elapsedMs).toBeLessThan(20_000);
    expect(tree.totalMinor).toBe(leaves.reduce((a, l) => a + l.balanceMinor, 0n));
    expect(tree.levelCount).toBe(18);
    expect(verifyProof(tree.proofFor('user77777', context))).toMatchObject({ ok: true });
  });
});

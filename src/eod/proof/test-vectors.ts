import { createHash } from 'node:crypto';
import { decimalToMinor, minorToDecimal } from '../../config/decimal.js';
import { bytesOf, leafHash, userCommitment } from './merkle-sum-hash.js';
import { buildMerkleSumTree } from './merkle-sum-tree.js';
import { paddingSaltsFromSeed } from './salts.js';
import type { InclusionProof } from './verify-proof.js';

/**
 * The published test vectors (docs/proof-test-vectors.json): small trees with fixed salts, so
 * anyone writing their own verifier can check it. Regenerate with
 * `npx tsx scripts/proof-test-vectors.ts`; a test checks the file against this and against the
 * standalone verifier.
 */

export interface TestVectorTree {
  name: string;
  date: string;
  currency: string;
  leaves: { userId: string; balance: string; salt: string; commitment: string; leafHash: string }[];
  /** Padding salt per padded level (level 0 = the leaves). */
  paddingSalts: Record<string, string>;
  /** userIds in leaf order (sorted by commitment). */
  leafOrder: string[];
  rootHash: string;
  total: string;
  proofs: InclusionProof[];
}

export interface TestVectors {
  description: string;
  paddingSeed: string;
  trees: TestVectorTree[];
}

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const hexBytes = (hex: string): Uint8Array => bytesOf(Buffer.from(hex, 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

const people: { userId: string; balance: string }[] = [
  { userId: 'alice', balance: '1.5' },
  { userId: 'bob', balance: '0.000000000000000001' },
  { userId: 'carol', balance: '0' },
  { userId: 'dave', balance: '250' },
  { userId: 'erin', balance: '12345.678901234567890123' },
];

export function buildTestVectors(): TestVectors {
  const paddingSeed = sha256Hex('recon-eod test vector padding seed');
  const paddingSalt = paddingSaltsFromSeed(hexBytes(paddingSeed));
  const trees = [1, 2, 3, 5].map((size): TestVectorTree => {
    const date = '2026-11-30';
    const currency = 'BTC';
    const leaves = people.slice(0, size).map((p) => {
      const salt = sha256Hex(`recon-eod test vector salt ${p.userId} ${date} ${currency}`);
      const commitment = userCommitment(hexBytes(salt), p.userId);
      return { ...p, salt, commitment: toHex(commitment), leafHash: toHex(leafHash(commitment, decimalToMinor(p.balance, 18))) };
    });
    const usedPadding: Record<string, string> = {};
    const tree = buildMerkleSumTree(
      leaves.map((l) => ({ userId: l.userId, balanceMinor: decimalToMinor(l.balance, 18), salt: hexBytes(l.salt) })),
      { paddingSalt: (level) => (usedPadding[String(level)] = toHex(paddingSalt(level)), paddingSalt(level)) },
    );
    const leafOrder = [...leaves].sort((a, b) => (a.commitment < b.commitment ? -1 : 1)).map((l) => l.userId);
    return {
      name: `${size} ${size === 1 ? 'leaf' : 'leaves'}`,
      date,
      currency,
      leaves,
      paddingSalts: usedPadding,
      leafOrder,
      rootHash: tree.rootHash,
      total: minorToDecimal(tree.totalMinor, 18),
      proofs: leaves.map((l) => tree.proofFor(l.userId, { date, currency }) as InclusionProof),
    };
  });
  return {
    description:
      'Merkle-sum proof of liabilities test vectors (docs/proof-of-liabilities.md). salt = SHA-256(utf8("recon-eod test vector salt <userId> <date> <currency>")); ' +
      'padding salt of level k = HMAC-SHA-256(paddingSeed, utf8("recon-eod/padding-salt/<k>")); amounts in whole units (10^18 minor units).',
    paddingSeed,
    trees,
  };
}

export const testVectorsText = (): string => `${JSON.stringify(buildTestVectors(), null, 2)}\n`;

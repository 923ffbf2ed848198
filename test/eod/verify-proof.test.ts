import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decimalToMinor, minorToDecimal } from '../../src/config/decimal.js';
import { buildMerkleSumTree, generateSalt, paddingSaltsFromSeed, type InclusionProof } from '../../src/eod/proof/index.js';
import { verifyProof, verifyProofFile } from '../../src/eod/proof/verify-proof.js';

/** A 1,000-user book with balances from 0 to ~10^6 whole units, some dust, some zero. */
function fixture(): { userId: string; balanceMinor: bigint; salt: Uint8Array }[] {
  let state = 0x2545f491n;
  const next = (): bigint => (state = (state * 6364136223846793005n + 1442695040888963407n) % (1n << 64n));
  return Array.from({ length: 1_000 }, (_, i) => {
    const r = next();
    const balanceMinor = i % 97 === 0 ? 0n : i % 13 === 0 ? r % 1000n : (r % (10n ** 24n));
    return { userId: `user-${i}`, balanceMinor, salt: generateSalt() };
  });
}

const date = '2026-11-30';
const currency = 'ETH';
const leaves = fixture();
const tree = buildMerkleSumTree(leaves, { paddingSalt: paddingSaltsFromSeed(generateSalt()) });
const report = { date, sha256: 'x', report: { date, prevSha256: null, liabilities: [{ currency, rootHash: tree.rootHash, total: minorToDecimal(tree.totalMinor, 18), leafCount: tree.leafCount }] } };
const proofs = new Map<string, InclusionProof>(leaves.map((l) => [l.userId, tree.proofFor(l.userId, { date, currency })!]));

const flipHexChar = (hex: string, at: number): string => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);
const expectRejected = (proof: unknown, what: string): void => {
  const verdict = verifyProof(proof, { report });
  if (verdict.ok) throw new Error(`accepted a proof with ${what}`);
};

describe('standalone proof verifier, 1,000 users', () => {
  it("the root's total equals Σ balances", () => {
    expect(tree.totalMinor).toBe(leaves.reduce((sum, l) => sum + l.balanceMinor, 0n));
    expect(tree.leafCount).toBe(1_000);
  });

  it('accepts every user\'s proof against the root and the report', () => {
    for (const leaf of leaves) {
      const proof = proofs.get(leaf.userId)!;
      expect(proof.path).toHaveLength(10);
      const verdict = verifyProof(proof, { report });
      if (!verdict.ok) throw new Error(`${leaf.userId}: ${verdict.reason}`);
      expect(verdict.checkedAgainstReport).toBe(true);
      // The proof travels as JSON.
      expect(verifyProof(JSON.parse(JSON.stringify(proof)) as unknown, { report: report.report })).toMatchObject({ ok: true });
    }
  });

  it('rejects every proof with the balance one minor unit off, or a changed salt, path hash, path sum or leafIndex', () => {
    for (const [i, leaf] of leaves.entries()) {
      const proof = proofs.get(leaf.userId)!;
      expectRejected({ ...proof, balance: minorToDecimal(leaf.balanceMinor + 1n, 18) }, `${leaf.userId}'s balance + 1 minor`);
      if (leaf.balanceMinor > 0n) expectRejected({ ...proof, balance: minorToDecimal(leaf.balanceMinor - 1n, 18) }, `${leaf.userId}'s balance - 1 minor`);
      expectRejected({ ...proof, salt: flipHexChar(proof.salt, i % 64) }, `${leaf.userId}'s salt changed`);
      expectRejected({ ...proof, userId: `${leaf.userId}x` }, `${leaf.userId}'s id changed`);
      const level = i % proof.path.length;
      const path = proof.path.map((s, k) => (k === level ? { ...s, hash: flipHexChar(s.hash, i % 64) } : s));
      expectRejected({ ...proof, path }, `${leaf.userId}'s path[${level}].hash changed`);
      const sums = proof.path.map((s, k) => (k === level ? { ...s, sum: minorToDecimal(decimalToMinor(s.sum, 18) + 1n, 18) } : s));
      expectRejected({ ...proof, path: sums }, `${leaf.userId}'s path[${level}].sum changed`);
      expectRejected({ ...proof, leafIndex: proof.leafIndex ^ (1 << level) }, `${leaf.userId}'s leafIndex bit ${level} flipped`);
      expectRejected({ ...proof, leafIndex: proof.leafIndex + 1024 }, `${leaf.userId}'s leafIndex past the tree`);
      expectRejected({ ...proof, path: proof.path.slice(0, -1) }, `${leaf.userId}'s path cut short`);
    }
  });

  it('names why: root, total, report date, currency, root in the report, malformed input', () => {
    const proof = proofs.get('user-1')!;
    expect(verifyProof({ ...proof, balance: '0.5' })).toMatchObject({ ok: false, reason: expect.stringMatching(/^root mismatch/) });
    expect(verifyProof({ ...proof, total: '1' })).toMatchObject({ ok: false, reason: expect.stringMatching(/^total mismatch/) });
    expect(verifyProof(proof, { report: { ...report.report, date: '2026-11-29' } })).toMatchObject({ ok: false, reason: 'the report is for 2026-11-29, the proof for 2026-11-30' });
    expect(verifyProof({ ...proof, currency: 'BTC' }, { report })).toMatchObject({ ok: false });
    expect(verifyProof(proof, { report: { ...report.report, liabilities: [] } })).toMatchObject({ ok: false, reason: 'the report has no liabilities for ETH' });
    const otherRoot = { ...report.report, liabilities: [{ ...report.report.liabilities[0]!, rootHash: '0'.repeat(64) }] };
    expect(verifyProof(proof, { report: otherRoot })).toMatchObject({ ok: false, reason: expect.stringMatching(/report's ETH root/) });
    const otherTotal = { ...report.report, liabilities: [{ ...report.report.liabilities[0]!, total: '1' }] };
    expect(verifyProof(proof, { report: otherTotal })).toMatchObject({ ok: false, reason: expect.stringMatching(/report's ETH total/) });
    expect(verifyProof({ ...proof, rootHash: proof.rootHash.toUpperCase() })).toMatchObject({ ok: false, reason: expect.stringMatching(/^not a proof: rootHash/) });
    expect(verifyProof({ ...proof, balance: '-1' })).toMatchObject({ ok: false, reason: expect.stringMatching(/^not a proof: balance/) });
    expect(verifyProof({ ...proof, balance: 1 })).toMatchObject({ ok: false });
    expect(verifyProof('nonsense')).toMatchObject({ ok: false });
    // Trailing zeros are the same amount.
    const solo = buildMerkleSumTree([{ userId: 'solo', balanceMinor: 5n * 10n ** 18n, salt: generateSalt() }], { paddingSalt: paddingSaltsFromSeed(generateSalt()) });
    const soloProof = solo.proofFor('solo', { date, currency })!;
    expect(soloProof.total).toBe('5');
    expect(verifyProof({ ...soloProof, total: '5.000', balance: '5.0' })).toMatchObject({ ok: true });
  });

  it('refuses a balance or path sum past u128 instead of wrapping', () => {
    const proof = proofs.get('user-2')!;
    const huge = minorToDecimal(1n << 128n, 18);
    expect(verifyProof({ ...proof, balance: huge })).toMatchObject({ ok: false, reason: 'balance does not fit in u128' });
    const path = proof.path.map((s, k) => (k === 0 ? { ...s, sum: huge } : s));
    expect(verifyProof({ ...proof, path })).toMatchObject({ ok: false, reason: 'path[0].sum does not fit in u128' });
  });

  it('is standalone: imports only node:crypto, node:fs/promises and zod', () => {
    const source = readFileSync(new URL('../../src/eod/proof/verify-proof.ts', import.meta.url), 'utf8');
    const imports = [...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(imports.sort()).toEqual(['node:crypto', 'node:fs/promises', 'zod']);
    expect(source).not.toMatch(/\brequire\(|import\(/);
  });

  describe('verifyProofFile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recon-proof-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reads the proof and the report from files and names a file it cannot use', async () => {
      const proofPath = join(dir, 'proof.json');
      const reportPath = join(dir, 'report.json');
      writeFileSync(proofPath, JSON.stringify(proofs.get('user-3')));
      writeFileSync(reportPath, JSON.stringify(report));
      expect(await verifyProofFile(proofPath)).toMatchObject({ ok: true, checkedAgainstReport: false });
      expect(await verifyProofFile(proofPath, { reportPath })).toMatchObject({ ok: true, checkedAgainstReport: true, rootHash: tree.rootHash });
      writeFileSync(join(dir, 'bad.json'), '{');
      expect(await verifyProofFile(join(dir, 'bad.json'))).toEqual({ ok: false, reason: `${join(dir, 'bad.json')}: not JSON` });
      expect(await verifyProofFile(join(dir, 'missing.json'))).toEqual({ ok: false, reason: `${join(dir, 'missing.json')}: cannot read (ENOENT)` });
    });
  });
});

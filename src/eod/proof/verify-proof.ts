/**
 * Standalone verifier of a proof of liabilities (docs/contract.md §10, docs/proof-of-liabilities.md).
 *
 * This file imports nothing from the project, only node:crypto, node:fs and zod, so a user can
 * copy it and check their own proof without trusting our tree builder. For the same reason it
 * repeats the two hash rules and the decimal parsing instead of sharing them: a bug in the
 * builder's copy cannot hide itself by being the code that checks it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** Balances are integers in minor units of 10^-18; on the wire, decimal strings in whole units. */
const scale = 18;
const u128Limit = 1n << 128n;
const pathLevelsMax = 64;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');
const wholeUnits = z.string().regex(/^\d+(\.\d{1,18})?$/, 'must be a non-negative decimal string with at most 18 decimals');

/** `admin.eod.proof`'s answer. */
export const inclusionProofSchema = z.object({
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD'),
  currency: z.string().min(1).max(32),
  userId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 characters of A-Z a-z 0-9 _ -'),
  balance: wholeUnits,
  salt: hex64,
  leafIndex: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  path: z.array(z.object({ hash: hex64, sum: wholeUnits })).max(pathLevelsMax),
  rootHash: hex64,
  total: wholeUnits,
});
export type InclusionProof = z.infer<typeof inclusionProofSchema>;

/** The part of a sealed report a proof is checked against: its date and `liabilities`. */
const reportLiabilitiesSchema = z.object({
  date: z.string(),
  liabilities: z.array(z.object({ currency: z.string(), rootHash: hex64, total: wholeUnits })),
});

export type ProofVerdict =
  | { ok: true; rootHash: string; total: string; checkedAgainstReport: boolean }
  | { ok: false; reason: string };

function toMinor(wholeUnitsText: string): bigint {
  const [whole = '0', fraction = ''] = wholeUnitsText.split('.');
  return BigInt(whole + fraction.padEnd(scale, '0'));
}

function u128be(value: bigint): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, value >> 64n);
  view.setBigUint64(8, value & ((1n << 64n) - 1n));
  return bytes;
}

const fromHex = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const leafPrefix = Uint8Array.of(0x00);
const nodePrefix = Uint8Array.of(0x01);

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return Uint8Array.from(hash.digest());
};

/** Recomputes the root and its sum from the user's own data and the path, or says why it cannot. */
export function recomputeRoot(proof: InclusionProof): { rootHash: string; totalMinor: bigint } | { reason: string } {
  const balance = toMinor(proof.balance);
  if (balance >= u128Limit) return { reason: 'balance does not fit in u128' };
  if (proof.path.length < 53 && proof.leafIndex >= 2 ** proof.path.length) {
    return { reason: `leafIndex ${proof.leafIndex} does not fit a path of ${proof.path.length} levels` };
  }
  const commitment = sha256(fromHex(proof.salt), new TextEncoder().encode(proof.userId));
  let hash = sha256(leafPrefix, commitment, u128be(balance));
  let sum = balance;
  let index = BigInt(proof.leafIndex);
  for (const [level, sibling] of proof.path.entries()) {
    const siblingHash = fromHex(sibling.hash);
    const siblingSum = toMinor(sibling.sum);
    if (siblingSum >= u128Limit) return { reason: `path[${level}].sum does not fit in u128` };
    const isLeft = (index & 1n) === 0n;
    hash = isLeft
      ? sha256(nodePrefix, hash, u128be(sum), siblingHash, u128be(siblingSum))
      : sha256(nodePrefix, siblingHash, u128be(siblingSum), hash, u128be(sum));
    sum += siblingSum;
    if (sum >= u128Limit) return { reason: `the sum at level ${level + 1} does not fit in u128` };
    index >>= 1n;
  }
  return { rootHash: toHex(hash), totalMinor: sum };
}

/**
 * Checks one proof: its root recomputed from balance, salt, userId, leafIndex and path must equal
 * `rootHash`, and its sum `total`. With `report` (an `admin.eod.report` answer or its bare
 * `report` body), also that the report is for the same date and lists the same root and total
 * for the proof's currency. The report's own hash and signature are checked by the report
 * verifier, not here.
 */
export function verifyProof(proof: unknown, options: { report?: unknown } = {}): ProofVerdict {
  const parsed = inclusionProofSchema.safeParse(proof);
  if (!parsed.success) return { ok: false, reason: `not a proof: ${describeIssues(parsed.error)}` };
  const p = parsed.data;
  const recomputed = recomputeRoot(p);
  if ('reason' in recomputed) return { ok: false, reason: recomputed.reason };
  if (recomputed.rootHash !== p.rootHash) {
    return { ok: false, reason: `root mismatch: the path gives ${recomputed.rootHash}, the proof says ${p.rootHash}` };
  }
  if (recomputed.totalMinor !== toMinor(p.total)) {
    return { ok: false, reason: `total mismatch: the path sums to ${formatMinor(recomputed.totalMinor)}, the proof says ${p.total}` };
  }
  if (options.report === undefined) return { ok: true, rootHash: p.rootHash, total: p.total, checkedAgainstReport: false };

  const body = isRecord(options.report) && isRecord(options.report.report) ? options.report.report : options.report;
  const report = reportLiabilitiesSchema.safeParse(body);
  if (!report.success) return { ok: false, reason: `not a report: ${describeIssues(report.error)}` };
  if (report.data.date !== p.date) return { ok: false, reason: `the report is for ${report.data.date}, the proof for ${p.date}` };
  const entry = report.data.liabilities.find((l) => l.currency === p.currency);
  if (!entry) return { ok: false, reason: `the report has no liabilities for ${p.currency}` };
  if (entry.rootHash !== p.rootHash) return { ok: false, reason: `the report's ${p.currency} root is ${entry.rootHash}, the proof's ${p.rootHash}` };
  if (toMinor(entry.total) !== toMinor(p.total)) return { ok: false, reason: `the report's ${p.currency} total is ${entry.total}, the proof's ${p.total}` };
  return { ok: true, rootHash: p.rootHash, total: p.total, checkedAgainstReport: true };
}

/** `recon proof verify <file> [--report <file>]`: both files JSON. */
export async function verifyProofFile(proofPath: string, options: { reportPath?: string } = {}): Promise<ProofVerdict> {
  const proof = await readJsonFile(proofPath);
  if (!proof.ok) return proof;
  if (options.reportPath === undefined) return verifyProof(proof.value);
  const report = await readJsonFile(options.reportPath);
  if (!report.ok) return report;
  return verifyProof(proof.value, { report: report.value });
}

/** Reads a JSON file, or says why it cannot (unreadable, not JSON), naming the path. */
export async function readJsonFile(path: string): Promise<{ ok: true; value: unknown } | { ok: false; reason: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return { ok: false, reason: `${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, reason: `${path}: not JSON` };
  }
}

function formatMinor(minor: bigint): string {
  const digits = minor.toString().padStart(scale + 1, '0');
  const fraction = digits.slice(-scale).replace(/0+$/, '');
  return `${digits.slice(0, -scale)}${fraction ? `.${fraction}` : ''}`;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const describeIssues = (error: z.ZodError): string =>
  error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'} ${i.message}`).join('; ');

/**
 * Verifier of sealed reports and their chain (`recon report verify <files…>`, ADR 0014).
 * It shares only the pure schema with the sealing side and recomputes the canonical bytes
 * itself (canonicalize + node:crypto), so a sealing bug cannot vouch for itself.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import canonicalize from 'canonicalize';
import { describeZodIssues, eodReportSchema, sealedReportSchema } from './report-schema.js';

export type ReportVerdict = { ok: true; date: string; sha256: string } | { ok: false; reason: string };

export interface ChainFailure {
  /** The failing report's business date (null when the document has none). */
  date: string | null;
  /** Its position in the input list (docs or paths), not in date order. */
  index: number;
  reason: string;
  /** With verifyReportFiles: the file. */
  path?: string;
  /** For a gap: the first business date with no report. */
  missingDate?: string;
}

export type ChainVerdict = { ok: true; days: string[] } | { ok: false; firstFailure: ChainFailure };

export interface ChainOptions {
  /** When given, every report must be signed by one of these keys (lowercase hex). */
  trustedPublicKeys?: readonly string[];
}

/** Ed25519 SubjectPublicKeyInfo DER prefix (RFC 8410): the raw 32-byte key follows it. */
const ed25519SpkiPrefix = '302a300506032b6570032100';

/** Checks one `admin.eod.report` answer: sha256 over the JCS bytes, the signature, and that the envelope matches the body. */
export function verifySealedReport(doc: unknown): ReportVerdict {
  const envelope = sealedReportSchema.safeParse(doc);
  if (!envelope.success) return { ok: false, reason: `not a sealed report: ${describeZodIssues(envelope.error)}` };
  const { date, sha256, prevSha256, signature, publicKey, report } = envelope.data;

  let text: string | undefined;
  try {
    text = canonicalize(report);
  } catch (error) {
    return { ok: false, reason: `the report cannot be canonicalized: ${(error as Error).message}` };
  }
  if (text === undefined) return { ok: false, reason: 'the report is empty' };
  const bytes = new TextEncoder().encode(text);
  const recomputed = createHash('sha256').update(bytes).digest('hex');
  if (recomputed !== sha256) return { ok: false, reason: `sha256 mismatch: the report hashes to ${recomputed}, the document says ${sha256}` };

  let signed: boolean;
  try {
    const key = createPublicKey({ key: Buffer.from(ed25519SpkiPrefix + publicKey, 'hex'), format: 'der', type: 'spki' });
    signed = verify(null, bytes, key, Uint8Array.from(Buffer.from(signature, 'hex')));
  } catch (error) {
    return { ok: false, reason: `the public key ${publicKey} is not a usable Ed25519 key: ${(error as Error).message}` };
  }
  if (!signed) return { ok: false, reason: `the signature does not verify with public key ${publicKey}` };

  const body = eodReportSchema.safeParse(report);
  if (!body.success) return { ok: false, reason: `the report body is malformed: ${describeZodIssues(body.error)}` };
  if (body.data.date !== date) return { ok: false, reason: `the report is dated ${body.data.date}, the document ${date}` };
  if (body.data.prevSha256 !== prevSha256) return { ok: false, reason: `the report's prevSha256 ${String(body.data.prevSha256)} differs from the document's ${String(prevSha256)}` };
  return { ok: true, date, sha256 };
}

function nextBusinessDate(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

const dateOf = (doc: unknown): string | null =>
  typeof doc === 'object' && doc !== null && typeof (doc as { date?: unknown }).date === 'string' ? (doc as { date: string }).date : null;

/**
 * Checks a chain of sealed reports. Sorted by date, each report must verify on its own, the
 * dates must be consecutive calendar days (business dates are), and each report's prevSha256
 * must be the sha256 of the one before. The earliest report's prevSha256 is not checked (null
 * for the very first day, or the hash of a day not given). The first failure in date order is
 * named; a document without a date fails before any other.
 */
export function verifyReportChain(docs: readonly unknown[], options: ChainOptions = {}): ChainVerdict {
  if (docs.length === 0) return { ok: false, firstFailure: { date: null, index: -1, reason: 'no reports given' } };
  const undated = docs.findIndex((doc) => dateOf(doc) === null);
  if (undated >= 0) {
    const verdict = verifySealedReport(docs[undated]);
    return { ok: false, firstFailure: { date: null, index: undated, reason: verdict.ok ? 'no date' : verdict.reason } };
  }
  const order = docs.map((doc, index) => ({ doc, index, date: dateOf(doc) as string })).sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.index - b.index));
  const trusted = options.trustedPublicKeys ? new Set(options.trustedPublicKeys) : null;
  let previous: { date: string; sha256: string } | null = null;
  for (const { doc, index, date } of order) {
    const fail = (reason: string, extra: Partial<ChainFailure> = {}): ChainVerdict => ({ ok: false, firstFailure: { date, index, reason, ...extra } });
    const verdict = verifySealedReport(doc);
    if (!verdict.ok) return fail(verdict.reason);
    const { prevSha256, publicKey } = sealedReportSchema.parse(doc);
    if (trusted && !trusted.has(publicKey)) return fail(`signed by ${publicKey}, which is not a trusted key`);
    if (previous) {
      if (date === previous.date) return fail(`two reports for ${date}`);
      const expected = nextBusinessDate(previous.date);
      if (date !== expected) return fail(`the chain has a gap: no report for ${expected} (between ${previous.date} and ${date})`, { missingDate: expected });
      if (prevSha256 !== previous.sha256) {
        return fail(`prevSha256 ${String(prevSha256)} is not the sha256 of ${previous.date}'s report (${previous.sha256})`);
      }
    }
    previous = { date, sha256: verdict.sha256 };
  }
  return { ok: true, days: order.map((o) => o.date) };
}

/** `recon report verify <files…>`: each file one `admin.eod.report` answer (JSON). */
export async function verifyReportFiles(paths: readonly string[], options: ChainOptions = {}): Promise<ChainVerdict> {
  const docs: unknown[] = [];
  for (const [index, path] of paths.entries()) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      return { ok: false, firstFailure: { date: null, index, path, reason: `${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})` } };
    }
    try {
      docs.push(JSON.parse(text) as unknown);
    } catch {
      return { ok: false, firstFailure: { date: null, index, path, reason: `${path}: not JSON` } };
    }
  }
  const verdict = verifyReportChain(docs, options);
  if (verdict.ok || verdict.firstFailure.index < 0) return verdict;
  return { ok: false, firstFailure: { ...verdict.firstFailure, path: paths[verdict.firstFailure.index] as string } };
}

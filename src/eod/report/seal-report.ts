import { sign, type KeyObject } from 'node:crypto';
import { canonicalReportBytes, sha256Hex } from './canonical.js';
import { describeZodIssues, eodReportSchema, type EodReport, type SealedReport } from './report-schema.js';
import { publicKeyHex } from './signing-key.js';

export interface ReportSeal {
  /** Lowercase hex SHA-256 of the report's JCS bytes. */
  sha256: string;
  /** Lowercase hex Ed25519 signature of the same bytes. */
  signature: string;
  /** Lowercase hex of the raw 32-byte public key. */
  publicKey: string;
}

/**
 * Seals a report body (docs/contract.md §10): checks it against the schema (prevSha256 already set by
 * the caller), then hashes and signs its RFC 8785 bytes. What is signed is `report` exactly as
 * given (extra fields included), not the parsed copy.
 */
export function sealReport(report: EodReport, key: KeyObject): ReportSeal {
  const parsed = eodReportSchema.safeParse(report);
  if (!parsed.success) throw new Error(`cannot seal the report of ${String((report as { date?: unknown }).date)}: ${describeZodIssues(parsed.error)}`);
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') throw new Error('cannot seal: the signing key is not an Ed25519 private key');
  const bytes = canonicalReportBytes(report);
  return {
    sha256: sha256Hex(bytes),
    signature: sign(null, bytes, key).toString('hex'),
    publicKey: publicKeyHex(key),
  };
}

/** The `admin.eod.report` answer for a report: `{date, sha256, prevSha256, signature, publicKey, report}`. */
export function sealReportDocument(report: EodReport, key: KeyObject): SealedReport {
  const seal = sealReport(report, key);
  return { date: report.date, sha256: seal.sha256, prevSha256: report.prevSha256, signature: seal.signature, publicKey: seal.publicKey, report };
}

import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/**
 * The bytes that are hashed and signed: the RFC 8785 (JCS) encoding of the report, UTF-8.
 * JCS fixes key order, whitespace, string escapes and number form, so the report survives
 * jsonb, JetStream and a user's own JSON parser and still hashes the same.
 */
export function canonicalReportText(report: unknown): string {
  const text = canonicalize(report);
  if (text === undefined) throw new TypeError('cannot canonicalize: the report is undefined');
  return text;
}

export function canonicalReportBytes(report: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalReportText(report));
}

/** Lowercase hex SHA-256 of bytes (or of a string's UTF-8). */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

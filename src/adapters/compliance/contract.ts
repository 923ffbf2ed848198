import { z } from 'zod';
import { userIdSchema } from '../../actors/identifiers.js';

/**
 * The screening and KYC providers' events (docs/contract.md): `compliance.sanctions.hit.<userId>`
 * `{userId, list, reference, ts}` and `compliance.kyc.reverified.<userId>` `{userId, reference, ts}`.
 */

const ts = z.union([
  z.iso.datetime({ offset: true }).transform((text) => new Date(text).getTime()),
  z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
]);
const text = (name: string) => z.string().min(1, `${name} must not be empty`).max(256, `${name} must be at most 256 characters`);

export const sanctionsHitSchema = z.object({ userId: userIdSchema, list: text('list'), reference: text('reference'), ts });
export const kycReverifiedSchema = z.object({ userId: userIdSchema, reference: text('reference'), ts });

export type ComplianceEvent =
  | { kind: 'sanctions_hit'; userId: string; list: string; reference: string; tsMs: number }
  | { kind: 'kyc_reverified'; userId: string; reference: string; tsMs: number };

export type ComplianceParse = { ok: true; event: ComplianceEvent } | { ok: false; reason: string };

/** Parses a message by its subject (`…compliance.sanctions.hit.<userId>` or `…compliance.kyc.reverified.<userId>`); never throws. */
export function parseComplianceEvent(subject: string, data: Uint8Array | string): ComplianceParse {
  const tokens = subject.split('.');
  const subjectUser = tokens[tokens.length - 1] ?? '';
  const kindToken = tokens.slice(-3, -1).join('.');
  let json: unknown;
  try {
    json = JSON.parse(typeof data === 'string' ? data : new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch (error) {
    return { ok: false, reason: `INVALID_JSON: ${(error as Error).message}` };
  }
  const issues = (e: z.ZodError): string => `INVALID_SHAPE: ${e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`;
  let event: ComplianceEvent;
  if (kindToken === 'sanctions.hit') {
    const p = sanctionsHitSchema.safeParse(json);
    if (!p.success) return { ok: false, reason: issues(p.error) };
    event = { kind: 'sanctions_hit', userId: p.data.userId, list: p.data.list, reference: p.data.reference, tsMs: p.data.ts };
  } else if (kindToken === 'kyc.reverified') {
    const p = kycReverifiedSchema.safeParse(json);
    if (!p.success) return { ok: false, reason: issues(p.error) };
    event = { kind: 'kyc_reverified', userId: p.data.userId, reference: p.data.reference, tsMs: p.data.ts };
  } else {
    return { ok: false, reason: `UNKNOWN_SUBJECT: ${subject}` };
  }
  if (event.userId !== subjectUser) return { ok: false, reason: `SUBJECT_MISMATCH: subject user "${subjectUser}" ≠ payload userId "${event.userId}"` };
  return { ok: true, event };
}

import { z } from 'zod';
import { userIdPattern, userIdSchema } from '../../actors/identifiers.js';
import { decimalToMinor, minorToDecimal } from '../../config/decimal.js';

/**
 * The matching engine's side of the me_db boundary (docs/contract.md §7, docs/matching-engine-contract.md):
 * balance events on `me.balance.<userId>` and the snapshot protocol on `me.snapshot`.
 * Wire amounts are decimal strings; in code they are bigint minor units at `balanceScale`.
 */

/** numeric(38,18): 18 decimals, 20 integer digits. */
export const balanceScale = 18;
export const balanceIntegerDigitsMax = 38 - balanceScale;

export const snapshotLimits = {
  /** Rows per chunk: keeps a chunk well under NATS's default 1 MiB max_payload (≈ 300 B a row at worst). */
  chunkSizeMax: 1_000,
  requestIdLengthMax: 128,
} as const;

const currencyPattern = /^[A-Za-z0-9_.-]{1,32}$/;
export const currencySchema = z.string().regex(currencyPattern, 'currency must be 1–32 characters of A-Z a-z 0-9 _ . -');

/** Says what is wrong with a wire amount, or null when it is a valid non-negative decimal of numeric(38,18). */
export function amountProblem(text: string): string | null {
  if (/^-/.test(text)) return 'must not be negative';
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) return 'must be a plain decimal string like "12.5" (no sign, exponent or spaces)';
  const whole = match[1] ?? '';
  const fraction = match[2] ?? '';
  if (whole.length > 1 && whole.startsWith('0')) return 'must not have leading zeros';
  if (whole.length > balanceIntegerDigitsMax) return `has more than ${balanceIntegerDigitsMax} integer digits`;
  if (fraction.length > balanceScale) return `has more than ${balanceScale} decimals`;
  return null;
}

/** A wire amount, parsed into minor units at `balanceScale`. */
export const amountSchema = z
  .string()
  .superRefine((text, ctx) => {
    const problem = amountProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform((text) => decimalToMinor(text, balanceScale));

/**
 * A wire amount amountProblem accepts, in minor units; null for anything else. The fast path of
 * the snapshot's rows (below): exactly the strings amountSchema accepts, with its value.
 */
const plainAmountPattern = new RegExp(`^(0|[1-9][0-9]{0,${balanceIntegerDigitsMax - 1}})(?:\\.([0-9]{1,${balanceScale}}))?$`);
function plainAmountMinor(value: unknown): bigint | null {
  if (typeof value !== 'string') return null;
  const match = plainAmountPattern.exec(value);
  return match ? BigInt((match[1] ?? '') + (match[2] ?? '').padEnd(balanceScale, '0')) : null;
}

const seqSchema = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const asOfSeqSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** `ts`: ISO-8601 with an offset (what we emit) or epoch milliseconds (what many engines emit). */
const tsSchema = z.union([
  z.iso.datetime({ offset: true }).transform((text) => new Date(text).getTime()),
  z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
]);

/** One (user, currency) balance as the engine holds it. */
export interface BalanceRow {
  userId: string;
  currency: string;
  totalMinor: bigint;
  lockedMinor: bigint;
  availableMinor: bigint;
}

/** A parsed `me.balance.<userId>` event: the balance after the change numbered `seq`. */
export interface BalanceEvent extends BalanceRow {
  seq: number;
  tsMs: number;
}

const balanceRowWireSchema = z.object({
  userId: userIdSchema,
  currency: currencySchema,
  total: amountSchema,
  locked: amountSchema,
  available: amountSchema,
});

const balanceEventWireSchema = balanceRowWireSchema.extend({ seq: seqSchema, ts: tsSchema });

export interface BalanceRowWire {
  userId: string;
  currency: string;
  total: string;
  locked: string;
  available: string;
}

export interface BalanceEventWire extends BalanceRowWire {
  seq: number;
  ts: string;
}

export type ContractViolationCode = 'INVALID_JSON' | 'INVALID_SHAPE' | 'TOTAL_MISMATCH' | 'SUBJECT_MISMATCH';

export type ParseResult<T> = { ok: true; event: T } | { ok: false; code: ContractViolationCode; reason: string };

function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/** Bytes or JSON text are decoded and parsed; anything else is taken as an already-parsed value. */
function decodeJson(input: unknown): { ok: true; value: unknown } | { ok: false; reason: string } {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) return { ok: true, value: input };
  try {
    const text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input);
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
}

/** Checks the invariant the contract promises; the reason names the three amounts. */
export function balanceInvariantProblem(row: BalanceRow): string | null {
  if (row.totalMinor === row.lockedMinor + row.availableMinor) return null;
  return (
    `total ${minorToDecimal(row.totalMinor, balanceScale)} ≠ locked ${minorToDecimal(row.lockedMinor, balanceScale)}` +
    ` + available ${minorToDecimal(row.availableMinor, balanceScale)}`
  );
}

/**
 * Parses one balance event. Never throws: a payload that breaks the contract comes back as a value
 * with its reason, for the reconciler to park (never apply). `subjectUserId`, when given, is the
 * last token of the subject and must equal the payload's userId.
 */
export function parseBalanceEvent(json: unknown, options: { subjectUserId?: string } = {}): ParseResult<BalanceEvent> {
  const decoded = decodeJson(json);
  if (!decoded.ok) return { ok: false, code: 'INVALID_JSON', reason: decoded.reason };
  const parsed = balanceEventWireSchema.safeParse(decoded.value);
  if (!parsed.success) return { ok: false, code: 'INVALID_SHAPE', reason: issuesText(parsed.error) };
  const wire = parsed.data;
  const event: BalanceEvent = {
    seq: wire.seq,
    userId: wire.userId,
    currency: wire.currency,
    totalMinor: wire.total,
    lockedMinor: wire.locked,
    availableMinor: wire.available,
    tsMs: wire.ts,
  };
  const invariant = balanceInvariantProblem(event);
  if (invariant) return { ok: false, code: 'TOTAL_MISMATCH', reason: invariant };
  if (options.subjectUserId !== undefined && options.subjectUserId !== event.userId) {
    return { ok: false, code: 'SUBJECT_MISMATCH', reason: `subject user "${options.subjectUserId}" ≠ payload userId "${event.userId}"` };
  }
  return { ok: true, event };
}

/** The userId token of a `…me.balance.<userId>` subject (the reconciler passes it to parseBalanceEvent). */
export function userIdOfBalanceSubject(subject: string): string {
  return subject.slice(subject.lastIndexOf('.') + 1);
}

export function balanceRowWireOf(row: BalanceRow): BalanceRowWire {
  return {
    userId: row.userId,
    currency: row.currency,
    total: minorToDecimal(row.totalMinor, balanceScale),
    locked: minorToDecimal(row.lockedMinor, balanceScale),
    available: minorToDecimal(row.availableMinor, balanceScale),
  };
}

/** Encodes an event for the wire; the invariant is asserted on the way out as well as on the way in. */
export function balanceEventWireOf(event: BalanceEvent): BalanceEventWire {
  const problem = balanceInvariantProblem(event);
  if (problem) throw new Error(`engine balance event ${event.seq}: ${problem}`);
  const { userId, currency, total, locked, available } = balanceRowWireOf(event);
  return { seq: event.seq, userId, currency, total, locked, available, ts: new Date(event.tsMs).toISOString() };
}

// ─── Snapshot protocol ────────────────────────────────────────────────────────

const requestIdSchema = z
  .string()
  .regex(new RegExp(`^[A-Za-z0-9_.:-]{1,${snapshotLimits.requestIdLengthMax}}$`), 'requestId must be 1–128 characters of A-Z a-z 0-9 _ . : -');

/** `me.snapshot` request; the reply subject is where the chunks go. */
export const snapshotRequestSchema = z.object({
  requestId: requestIdSchema,
  chunkSize: z.number().int().min(1).max(snapshotLimits.chunkSizeMax),
});
export type SnapshotRequest = z.infer<typeof snapshotRequestSchema>;

const snapshotChunkWireSchema = z.object({
  requestId: requestIdSchema,
  asOfSeq: asOfSeqSchema,
  chunk: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  last: z.boolean(),
  balances: z.array(balanceRowWireSchema).max(snapshotLimits.chunkSizeMax),
});

export const snapshotErrorCodes = ['INVALID_REQUEST', 'BUSY', 'INTERNAL'] as const;
export type SnapshotErrorCode = (typeof snapshotErrorCodes)[number];

const snapshotErrorWireSchema = z.object({
  requestId: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string() }),
});

/** One reply message: a chunk of the snapshot, or the engine's refusal. */
export const snapshotReplySchema = z.union([snapshotChunkWireSchema, snapshotErrorWireSchema]);

export interface SnapshotChunk {
  requestId: string;
  /** The engine's seq when it took the snapshot: every event ≤ asOfSeq is in it, none after. */
  asOfSeq: number;
  /** 0, 1, 2, … in order; the one with `last` ends the reply. */
  chunk: number;
  last: boolean;
  balances: BalanceRow[];
}

export interface SnapshotChunkWire {
  requestId: string;
  asOfSeq: number;
  chunk: number;
  last: boolean;
  balances: BalanceRowWire[];
}

export interface SnapshotErrorWire {
  requestId?: string;
  error: { code: SnapshotErrorCode; message: string };
}

export type SnapshotReplyParse =
  | { ok: true; kind: 'chunk'; chunk: SnapshotChunk }
  | { ok: true; kind: 'error'; error: { code: string; message: string } }
  | { ok: false; reason: string };

/**
 * The balance row balanceRowWireSchema would return, checked by hand; null when any field is
 * off (the schema then says what). A snapshot is the engine's whole book: a schema parse per row
 * was a fifth of a cold start's CPU.
 */
function plainBalanceRow(value: unknown): BalanceRow | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { userId, currency, total, locked, available } = value as Record<string, unknown>;
  if (typeof userId !== 'string' || !userIdPattern.test(userId) || typeof currency !== 'string' || !currencyPattern.test(currency)) return null;
  const totalMinor = plainAmountMinor(total);
  const lockedMinor = plainAmountMinor(locked);
  const availableMinor = plainAmountMinor(available);
  if (totalMinor === null || lockedMinor === null || availableMinor === null) return null;
  return { userId, currency, totalMinor, lockedMinor, availableMinor };
}

const requestIdPattern = new RegExp(`^[A-Za-z0-9_.:-]{1,${snapshotLimits.requestIdLengthMax}}$`);
const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= Number.MAX_SAFE_INTEGER;

/** A chunk snapshotChunkWireSchema accepts, checked by hand (rows still unchecked against their invariant); null: let the schema judge it. */
function plainSnapshotChunk(value: unknown): SnapshotChunk | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { requestId, asOfSeq, chunk, last, balances } = value as Record<string, unknown>;
  if (typeof requestId !== 'string' || !requestIdPattern.test(requestId) || !isCount(asOfSeq) || !isCount(chunk) || typeof last !== 'boolean') return null;
  if (!Array.isArray(balances) || balances.length > snapshotLimits.chunkSizeMax) return null;
  const rows: BalanceRow[] = [];
  for (const wire of balances) {
    const row = plainBalanceRow(wire);
    if (!row) return null;
    rows.push(row);
  }
  return { requestId, asOfSeq, chunk, last, balances: rows };
}

/** Parses one reply message and checks every row's invariant; never throws. */
export function parseSnapshotReply(json: unknown): SnapshotReplyParse {
  const decoded = decodeJson(json);
  if (!decoded.ok) return { ok: false, reason: decoded.reason };
  const plain = plainSnapshotChunk(decoded.value);
  if (plain) {
    for (const [index, row] of plain.balances.entries()) {
      const problem = balanceInvariantProblem(row);
      if (problem) return { ok: false, reason: `balances.${index} (${row.userId}/${row.currency}): ${problem}` };
    }
    return { ok: true, kind: 'chunk', chunk: plain };
  }
  const parsed = snapshotReplySchema.safeParse(decoded.value);
  if (!parsed.success) return { ok: false, reason: issuesText(parsed.error) };
  const reply = parsed.data;
  if ('error' in reply) return { ok: true, kind: 'error', error: reply.error };
  const balances: BalanceRow[] = [];
  for (const [index, row] of reply.balances.entries()) {
    const parsedRow: BalanceRow = {
      userId: row.userId,
      currency: row.currency,
      totalMinor: row.total,
      lockedMinor: row.locked,
      availableMinor: row.available,
    };
    const problem = balanceInvariantProblem(parsedRow);
    if (problem) return { ok: false, reason: `balances.${index} (${row.userId}/${row.currency}): ${problem}` };
    balances.push(parsedRow);
  }
  return { ok: true, kind: 'chunk', chunk: { requestId: reply.requestId, asOfSeq: reply.asOfSeq, chunk: reply.chunk, last: reply.last, balances } };
}

export function snapshotChunkWireOf(chunk: SnapshotChunk): SnapshotChunkWire {
  return { requestId: chunk.requestId, asOfSeq: chunk.asOfSeq, chunk: chunk.chunk, last: chunk.last, balances: chunk.balances.map(balanceRowWireOf) };
}

import { z } from 'zod';
import { actorIdSchema, commandIdSchema, reasonCodeSchema, userIdSchema } from '../actors/identifiers.js';
import { accountStates, authorities } from '../fsm/index.js';
import { AdminError } from './errors.js';

/** Parses a request body; a body that does not fit is INVALID_REQUEST, naming each bad field. */
export function parseRequest<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const detail = result.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
  throw new AdminError('INVALID_REQUEST', detail);
}

/** Admin request bodies (docs/contract.md §2). Unknown fields are ignored; known ones are checked strictly. */

export const accountRefRequest = z.object({ userId: userIdSchema });

export const createAccountRequest = z.object({
  userId: userIdSchema,
  /** Who signed up; the holder by default (the only authority for (new) → pending_kyc is self). */
  actorId: actorIdSchema.optional(),
  commandId: commandIdSchema.optional(),
});

export const transitionRequest = z.object({
  userId: userIdSchema,
  target: z.enum(accountStates, { message: `target must be one of ${accountStates.join(', ')}` }),
  reasonCode: reasonCodeSchema,
  authority: z.enum(authorities, { message: `authority must be one of ${authorities.join(', ')}` }),
  actorId: actorIdSchema,
  commandId: commandIdSchema.optional(),
});

const instant = z.union([z.iso.datetime({ offset: true }), z.iso.date()]).transform((text) => new Date(text).getTime());

export const auditReplayRequest = z
  .object({ userId: userIdSchema, from: instant.optional(), to: instant.optional() })
  .refine((r) => r.from === undefined || r.to === undefined || r.from <= r.to, 'from must not be after to');

export const parkedListRequest = z.object({ limit: z.number().int().min(1).max(1_000).default(100) });

/** A signed decimal amount of numeric(38,18): no exponent, no spaces, no leading zeros, not zero. */
const signedAmount = z.string().superRefine((text, ctx) => {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  const say = (message: string): void => ctx.addIssue({ code: 'custom', message });
  if (!match) return say('must be a signed decimal string like "12.5" or "-0.25" (no exponent, "+" or spaces)');
  const whole = match[2]!;
  const fraction = match[3] ?? '';
  if (whole.length > 1 && whole.startsWith('0')) return say('must not have leading zeros');
  if (whole.length > 20) return say('has more than 20 integer digits');
  if (fraction.length > 18) return say('has more than 18 decimals');
  if (/^0*$/.test(whole + fraction)) return say('must not be zero');
});

export const balanceAdjustRequest = z.object({
  userId: userIdSchema,
  currency: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, 'currency must be 1–32 characters of A-Z a-z 0-9 _ . -'),
  amount: signedAmount,
  reason: z.string().refine((r) => r.trim().length > 0, 'reason must not be empty').refine((r) => r.length <= 500, 'reason must be at most 500 characters'),
  actorId: actorIdSchema,
  idempotencyKey: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'idempotencyKey must be 1–128 characters of A-Z a-z 0-9 _ . : -'),
});

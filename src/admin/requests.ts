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

import { z } from 'zod';

/** docs/contract.md §1: a userId is 1–64 characters of [A-Za-z0-9_-] (safe as a NATS subject token and a KV key). */
export const userIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
export const userIdSchema = z.string().regex(userIdPattern, 'userId must be 1–64 characters of A-Z a-z 0-9 _ -');
export const commandIdSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'commandId must be 1–128 characters of A-Z a-z 0-9 _ . : -');
export const reasonCodeSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'reasonCode must be 1–64 characters of A-Z a-z 0-9 _ . : -');
/** Free text, but no control characters: a NUL cannot be stored in Postgres text, and would wedge the account's audit. */
export const actorIdSchema = z
  .string()
  .min(1, 'actorId must not be empty')
  .max(128, 'actorId must be at most 128 characters')
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'actorId must not contain control characters');

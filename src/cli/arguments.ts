import type { z } from 'zod';
import { usageError } from './exit-codes.js';

/** Checks one command-line value with the same schema the engine uses; a bad one is exit 2 naming it. */
export function checked<S extends z.ZodType>(schema: S, what: string, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw usageError(`${what} "${String(value)}": ${result.error.issues.map((i) => i.message).join('; ')}`);
}

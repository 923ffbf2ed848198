import { z } from 'zod';
import type { Pool, PoolClient } from './pool.js';

/** Rows from Postgres are input too: parsed with their schema, never cast to a type. */
export async function queryRows<S extends z.ZodType>(db: Pool | PoolClient, schema: S, text: string, params: unknown[] = []): Promise<Array<z.infer<S>>> {
  const result = await db.query(text, params);
  return z.array(schema).parse(result.rows);
}

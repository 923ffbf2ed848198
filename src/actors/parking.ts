import { z } from 'zod';
import type { Pool } from '../db/pool.js';
import type { ParkedOrigin } from './command-intake.js';

/** Postgres text cannot hold NUL; the exact bytes go to payload_bytes, the readable copy escapes it. */
const readable = (text: string): string => text.replaceAll('\u0000', '\\u0000');

/**
 * Keeps a message the engine could not handle, with its error; a second park of the same
 * message is a no-op. Whatever the bytes are, the row can be written: a poison message is
 * parked, never able to wedge its consumer.
 */
export async function parkCommand(pool: Pool, origin: ParkedOrigin, error: string, attempts: number): Promise<void> {
  const bytes = origin.bytes ? Buffer.from(origin.bytes.buffer, origin.bytes.byteOffset, origin.bytes.byteLength) : Buffer.from(origin.payload, 'utf8');
  await pool.query(
    `INSERT INTO parked_commands (stream, stream_seq, subject, payload, payload_bytes, error, attempts)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (stream, stream_seq) DO NOTHING`,
    [origin.stream, origin.streamSeq, readable(origin.subject), readable(origin.payload), bytes, readable(error).slice(0, 4_000), attempts],
  );
}

export interface ParkedCommand extends Omit<ParkedOrigin, 'bytes'> { error: string; attempts: number; parkedAt: string }

const parkedRow = z.object({
  stream: z.string(), stream_seq: z.string(), subject: z.string(), payload: z.string(), error: z.string(), attempts: z.number(), parked_at: z.date(),
});

export async function listParked(pool: Pool, limit: number): Promise<ParkedCommand[]> {
  const result = await pool.query(
    'SELECT stream, stream_seq::text, subject, payload, error, attempts, parked_at FROM parked_commands ORDER BY id DESC LIMIT $1', [limit]);
  return result.rows.map((raw) => {
    const r = parkedRow.parse(raw);
    return { stream: r.stream, streamSeq: Number(r.stream_seq), subject: r.subject, payload: r.payload, error: r.error, attempts: r.attempts, parkedAt: r.parked_at.toISOString() };
  });
}

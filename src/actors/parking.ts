import type { Pool } from '../db/pool.js';
import type { ParkedOrigin } from './command-intake.js';

/** Keeps a command the engine could not handle, with its error; a second park of the same message is a no-op. */
export async function parkCommand(pool: Pool, origin: ParkedOrigin, error: string, attempts: number): Promise<void> {
  await pool.query(
    `INSERT INTO parked_commands (stream, stream_seq, subject, payload, error, attempts)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (stream, stream_seq) DO NOTHING`,
    [origin.stream, origin.streamSeq, origin.subject, origin.payload, error, attempts],
  );
}

export interface ParkedCommand extends ParkedOrigin { error: string; attempts: number; parkedAt: string }

export async function listParked(pool: Pool, limit: number): Promise<ParkedCommand[]> {
  const result = await pool.query<{ stream: string; stream_seq: string; subject: string; payload: string; error: string; attempts: number; parked_at: Date }>(
    'SELECT stream, stream_seq, subject, payload, error, attempts, parked_at FROM parked_commands ORDER BY id DESC LIMIT $1', [limit]);
  return result.rows.map((r) => ({
    stream: r.stream, streamSeq: Number(r.stream_seq), subject: r.subject, payload: r.payload,
    error: r.error, attempts: r.attempts, parkedAt: r.parked_at.toISOString(),
  }));
}

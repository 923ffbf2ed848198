import { z } from 'zod';
import type { LiveBreak } from './breaks/break.js';
import type { DurableWrites } from './durable-writes.js';

export interface SealRecord<C> {
  boundary: string;
  businessDate: string;
  cut: C;
  digest: string;
  openBreaks: LiveBreak[];
  sealedAt: string;
}

const storedSealSchema = z.object({
  cut: z.record(z.string(), z.unknown()),
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  open_breaks: z.array(z.object({
    id: z.string(), boundary: z.string(), kind: z.string(), key: z.string(),
    userId: z.string().nullable(), currency: z.string().nullable(),
    left: z.string().nullable(), right: z.string().nullable(), delta: z.string().nullable(), detail: z.string().nullable(),
    status: z.enum(['open', 'acknowledged', 'accepted']), firstSeenAtMs: z.number(),
  })),
  sealed_at: z.date(),
});

/**
 * Writes a boundary's seal for a business date once (fenced with the leader's term): a
 * second call, or a second instance, gets the first seal back unchanged.
 */
export async function writeSealOnce<C extends object>(writes: DurableWrites, seal: Omit<SealRecord<C>, 'sealedAt'>): Promise<SealRecord<C>> {
  const row = await writes.transaction(async (client) => {
    await client.query(
      `INSERT INTO recon_seals (boundary, business_date, cut, digest, open_breaks) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (boundary, business_date) DO NOTHING`,
      [seal.boundary, seal.businessDate, JSON.stringify(seal.cut), seal.digest, JSON.stringify(seal.openBreaks)],
    );
    const stored = await client.query('SELECT cut, digest, open_breaks, sealed_at FROM recon_seals WHERE boundary = $1 AND business_date = $2', [seal.boundary, seal.businessDate]);
    if (!stored.rows[0]) throw new Error(`${seal.boundary} seal ${seal.businessDate} vanished`);
    return storedSealSchema.parse(stored.rows[0]);
  });
  return {
    boundary: seal.boundary,
    businessDate: seal.businessDate,
    // Written by this function from a C (this boundary's own cut type), checked as an object above.
    cut: row.cut as C,
    digest: row.digest,
    openBreaks: row.open_breaks,
    sealedAt: row.sealed_at.toISOString(),
  };
}

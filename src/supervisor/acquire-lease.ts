import type { KV } from '@nats-io/kv';
import { LeaseTerm } from './lease-term.js';

/**
 * Takes a lease key: `create` when nobody holds it; when it still holds our own id (we
 * restarted with the same stable INSTANCE_ID before the TTL ran out), `update` on its
 * revision takes it back at once. Either way the new revision is the term's fencing token:
 * larger than any earlier term's, so the old incarnation's writes are refused (ADR 0021).
 * The term returned renews the key from there (lease-term.ts).
 */
export async function acquireLease(bucket: KV, key: string, holderId: string, leaseTtlMs: number): Promise<{ term: LeaseTerm; reclaimed: boolean } | null> {
  const sentAtMs = Date.now();
  const termAt = (revision: number): LeaseTerm => new LeaseTerm(bucket, key, holderId, leaseTtlMs, revision, sentAtMs);
  try {
    return { term: termAt(await bucket.create(key, holderId)), reclaimed: false };
  } catch {
    // Held: by us (a previous incarnation), or by someone else.
  }
  const entry = await bucket.get(key).catch(() => null);
  if (!entry || entry.operation !== 'PUT' || entry.string() !== holderId) return null;
  try {
    return { term: termAt(await bucket.update(key, holderId, entry.revision)), reclaimed: true };
  } catch {
    return null; // moved in between
  }
}

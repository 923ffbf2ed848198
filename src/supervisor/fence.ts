import type { Pool, PoolClient } from '../db/pool.js';
import { withTransaction } from '../db/transaction.js';

/**
 * A lease's fencing token as Postgres sees it: the KV revision at which `holder` acquired
 * `lease`. Writes made under a lease check it in their own transaction (ADR 0012).
 */
export interface Fence {
  lease: string;
  token: number;
  holder: string;
}

/** A write refused because a newer holder has claimed the lease. */
export class FencedError extends Error {
  constructor(readonly fence: Fence, detail: string) {
    super(`write refused by the fence of lease "${fence.lease}" (token ${fence.token}, holder ${fence.holder}): ${detail}`);
    this.name = 'FencedError';
  }
}

const fencedSqlState = 'RF001';

/**
 * Records `fence` as the lease's current token, once, right after election. Refused when a
 * newer token is already recorded. Waits for the previous holder's in-flight fenced
 * transactions (they hold the row FOR SHARE), so none of them commits after this returns.
 */
export async function claimFence(pool: Pool, fence: Fence): Promise<void> {
  const result = await pool.query<{ token: string }>(
    `INSERT INTO lease_fences (lease, token, holder) VALUES ($1, $2, $3)
     ON CONFLICT (lease) DO UPDATE SET token = EXCLUDED.token, holder = EXCLUDED.holder, claimed_at = now()
       WHERE lease_fences.token <= EXCLUDED.token
     RETURNING token`,
    [fence.lease, fence.token, fence.holder],
  );
  if (result.rowCount !== 1) throw new FencedError(fence, 'a newer holder has already claimed it');
}

/** Inside a transaction: throws `FencedError` unless `fence` is still the lease's current token. */
export async function assertFence(client: PoolClient, fence: Fence): Promise<void> {
  try {
    await client.query('SELECT assert_lease_fence($1, $2)', [fence.lease, fence.token]);
  } catch (error) {
    if (isFencedSqlError(error)) throw new FencedError(fence, (error as Error).message);
    throw error;
  }
}

/** Runs `work` in one transaction that commits only while `fence` holds (checked first). */
export function withFencedTransaction<T>(pool: Pool, fence: Fence, work: (client: PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    await assertFence(client, fence);
    return work(client);
  });
}

function isFencedSqlError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === fencedSqlState;
}

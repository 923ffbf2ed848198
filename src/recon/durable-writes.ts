import type { Pool, PoolClient } from '../db/pool.js';
import { withTransaction } from '../db/transaction.js';
import { withFencedTransaction, type Fence } from '../supervisor/fence.js';

/**
 * How a reconciler writes anything durable (checkpoints, breaks, their events and outbox,
 * seals): one transaction, fenced by the leader term's token when it runs under the leader
 * lease, so a paused leader that lost its lease writes nothing (ADR 0012, ADR 0021).
 */
export interface DurableWrites {
  transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T>;
  /** The term's fencing token, recorded beside rows that say who wrote them; null when unfenced. */
  readonly fenceToken: number | null;
}

/** Fenced by `fence` when given; a plain transaction otherwise (a reconciler run on its own, in a test or a tool). */
export function durableWrites(pool: Pool, fence: Fence | null | undefined): DurableWrites {
  if (!fence) return { transaction: (work) => withTransaction(pool, work), fenceToken: null };
  return { transaction: (work) => withFencedTransaction(pool, fence, work), fenceToken: fence.token };
}

import type { ConfirmedStakes, SavedStakes, StakesChanges } from '../../adapters/chain/confirmed-stakes.js';
import type { Pool, PoolClient } from '../../db/pool.js';
import type { DurableWrites } from '../durable-writes.js';
import { reconLimits } from '../limits.js';
import { z } from 'zod';
import { queryRows } from '../../db/rows.js';

export const dbChainBoundary = 'db_chain';

/** One pool on one chain: a repointed RPC or address starts a history of its own. */
export const poolKeyOf = (chainId: bigint, poolAddress: string): string => `${chainId}:${poolAddress.toLowerCase()}`;


/** The follower's saved state for this pool, or null on a first start. */
export async function loadFollowState(pool: Pool, poolKey: string): Promise<SavedStakes | null> {
  const [row] = await queryRows(pool, z.object({ start_block: z.string(), processed_block: z.string().nullable(), processed_hash: z.string().nullable() }),
    'SELECT start_block::text, processed_block::text, processed_hash FROM recon_db_chain_follow WHERE pool = $1', [poolKey]);
  if (!row) return null;
  const [blocks, deltas, stakers] = await Promise.all([
    queryRows(pool, z.object({ block_number: z.string(), block_hash: z.string() }), 'SELECT block_number::text, block_hash FROM recon_db_chain_blocks WHERE pool = $1', [poolKey]),
    queryRows(pool, z.object({ block_number: z.string(), log_index: z.number(), block_hash: z.string(), tx_hash: z.string(), staker: z.string(), amount_base: z.string() }),
      'SELECT block_number::text, log_index, block_hash, tx_hash, staker, amount_base::text FROM recon_db_chain_deltas WHERE pool = $1', [poolKey]),
    queryRows(pool, z.object({ staker: z.string(), net_base: z.string() }), 'SELECT staker, net_base::text FROM recon_db_chain_stakers WHERE pool = $1', [poolKey]),
  ]);
  const processed = row.processed_block !== null && row.processed_hash !== null ? { number: Number(row.processed_block), hash: row.processed_hash } : null;
  if (processed && !blocks.some((b) => Number(b.block_number) === processed.number && b.block_hash === processed.hash)) {
    throw new Error(`db_chain checkpoint of ${poolKey}: processed block ${processed.number} is not among the saved hashes`);
  }
  return {
    startBlock: Number(row.start_block),
    processed,
    hashes: blocks.map((b) => ({ number: Number(b.block_number), hash: b.block_hash })),
    deltas: deltas.map((d) => ({
      blockNumber: Number(d.block_number), logIndex: d.log_index, blockHash: d.block_hash, txHash: d.tx_hash, staker: d.staker, amountBase: BigInt(d.amount_base),
    })),
    stakers: new Map(stakers.map((s) => [s.staker, BigInt(s.net_base)])),
  };
}

/** One transaction: what changed since the last save, then the processed block. */
export async function saveFollowState(writes: DurableWrites, poolKey: string, stakes: ConfirmedStakes, changes: StakesChanges): Promise<void> {
  await writes.transaction(async (client) => {
    if (changes.reset) {
      for (const table of ['recon_db_chain_blocks', 'recon_db_chain_deltas', 'recon_db_chain_stakers']) {
        await client.query(`DELETE FROM ${table} WHERE pool = $1`, [poolKey]);
      }
    }
    if (changes.rewoundAbove !== null) {
      await client.query('DELETE FROM recon_db_chain_blocks WHERE pool = $1 AND block_number > $2', [poolKey, changes.rewoundAbove]);
      await client.query('DELETE FROM recon_db_chain_deltas WHERE pool = $1 AND block_number > $2', [poolKey, changes.rewoundAbove]);
    }
    for (let i = 0; i < changes.hashesAdded.length; i += reconLimits.checkpointRowsPerStatementMax) {
      const batch = changes.hashesAdded.slice(i, i + reconLimits.checkpointRowsPerStatementMax);
      await client.query(
        `INSERT INTO recon_db_chain_blocks (pool, block_number, block_hash)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[])
         ON CONFLICT (pool, block_number) DO UPDATE SET block_hash = EXCLUDED.block_hash`,
        [poolKey, batch.map((b) => String(b.number)), batch.map((b) => b.hash)],
      );
    }
    for (let i = 0; i < changes.deltasAdded.length; i += reconLimits.checkpointRowsPerStatementMax) {
      const batch = changes.deltasAdded.slice(i, i + reconLimits.checkpointRowsPerStatementMax);
      await client.query(
        `INSERT INTO recon_db_chain_deltas (pool, block_number, log_index, block_hash, tx_hash, staker, amount_base)
         SELECT $1, * FROM unnest($2::bigint[], $3::int[], $4::text[], $5::text[], $6::text[], $7::numeric[])
         ON CONFLICT (pool, block_number, log_index) DO UPDATE SET block_hash = EXCLUDED.block_hash, tx_hash = EXCLUDED.tx_hash,
           staker = EXCLUDED.staker, amount_base = EXCLUDED.amount_base`,
        [poolKey, batch.map((d) => String(d.blockNumber)), batch.map((d) => d.logIndex), batch.map((d) => d.blockHash),
          batch.map((d) => d.txHash), batch.map((d) => d.staker), batch.map((d) => d.amountBase.toString())],
      );
    }
    await client.query('DELETE FROM recon_db_chain_blocks WHERE pool = $1 AND block_number < $2', [poolKey, changes.floor]);
    await client.query('DELETE FROM recon_db_chain_deltas WHERE pool = $1 AND block_number <= $2', [poolKey, changes.floor]);
    await saveStakers(client, poolKey, changes.stakersChanged);
    const processed = stakes.processed;
    await client.query(
      `INSERT INTO recon_db_chain_follow (pool, start_block, processed_block, processed_hash, saved_at) VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (pool) DO UPDATE SET start_block = EXCLUDED.start_block, processed_block = EXCLUDED.processed_block,
         processed_hash = EXCLUDED.processed_hash, saved_at = now()`,
      [poolKey, stakes.startBlock, processed ? String(processed.number) : null, processed?.hash ?? null],
    );
  });
}

async function saveStakers(client: PoolClient, poolKey: string, changed: ReadonlyMap<string, bigint>): Promise<void> {
  const entries = [...changed];
  for (let i = 0; i < entries.length; i += reconLimits.checkpointRowsPerStatementMax) {
    const batch = entries.slice(i, i + reconLimits.checkpointRowsPerStatementMax);
    const gone = batch.filter(([, net]) => net === 0n).map(([staker]) => staker);
    const kept = batch.filter(([, net]) => net !== 0n);
    if (gone.length > 0) await client.query('DELETE FROM recon_db_chain_stakers WHERE pool = $1 AND staker = ANY($2::text[])', [poolKey, gone]);
    if (kept.length > 0) {
      await client.query(
        `INSERT INTO recon_db_chain_stakers (pool, staker, net_base) SELECT $1, * FROM unnest($2::text[], $3::numeric[])
         ON CONFLICT (pool, staker) DO UPDATE SET net_base = EXCLUDED.net_base`,
        [poolKey, kept.map(([staker]) => staker), kept.map(([, net]) => net.toString())],
      );
    }
  }
}

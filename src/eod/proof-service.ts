import type { Pool } from '../db/pool.js';
import { buildMerkleSumTree, paddingSaltsFromSeed, type InclusionProof, type MerkleSumTree } from './proof/index.js';
import { signedDecimalToMinor } from '../config/decimal.js';
import { moneyScale } from './cut-balances.js';
import { EodInputError } from './close-run.js';

/** Trees kept built, most recently used last: a user asking for their proof rarely asks alone. */
const treesCachedMax = 8;

/**
 * `admin.eod.proof`: rebuilds the (date, currency) tree from the stored snapshot rows, their
 * salts and the stored padding seed, checks its root against proof_of_reserves, and answers the
 * user's path (docs/contract.md §10). The full tree is never published.
 */
export class ProofService {
  private readonly trees = new Map<string, MerkleSumTree>();

  constructor(private readonly pool: Pool) {}

  async proof(date: string, userId: string, currency: string): Promise<InclusionProof> {
    // Only against a signed root: a snapshot whose day did not seal proves nothing to a user.
    const sealed = await this.pool.query('SELECT 1 FROM eod_reports WHERE business_date = $1', [date]);
    if ((sealed.rowCount ?? 0) === 0) throw new EodInputError('NOT_FOUND', 'date', `${date} is not sealed`);
    const row = await this.pool.query('SELECT 1 FROM user_balance_snapshots WHERE business_date = $1 AND user_id = $2 AND currency = $3', [date, userId, currency]);
    if ((row.rowCount ?? 0) === 0) throw new EodInputError('NOT_FOUND', 'userId', `${userId} has no ${currency} balance row on ${date}`);
    const tree = await this.tree(date, currency);
    const proof = tree.proofFor(userId, { date, currency });
    if (!proof) throw new EodInputError('NOT_FOUND', 'userId', `${userId} is not a leaf of the ${currency} tree of ${date}`);
    return proof;
  }

  private async tree(date: string, currency: string): Promise<MerkleSumTree> {
    const key = `${date}/${currency}`;
    const cached = this.trees.get(key);
    if (cached) {
      this.trees.delete(key);
      this.trees.set(key, cached);
      return cached;
    }
    const root = await this.pool.query<{ root_hash: string; padding_seed: Buffer }>(
      'SELECT root_hash, padding_seed FROM proof_of_reserves WHERE business_date = $1 AND currency = $2', [date, currency]);
    const stored = root.rows[0];
    if (!stored) throw new EodInputError('NOT_FOUND', 'currency', `no ${currency} root for ${date}`);
    const rows = await this.pool.query<{ user_id: string; total: string; salt: Buffer }>(
      'SELECT user_id, total::text, salt FROM user_balance_snapshots WHERE business_date = $1 AND currency = $2', [date, currency]);
    const tree = buildMerkleSumTree(
      rows.rows.map((r) => ({ userId: r.user_id, balanceMinor: signedDecimalToMinor(r.total, moneyScale), salt: new Uint8Array(r.salt) })),
      { paddingSalt: paddingSaltsFromSeed(new Uint8Array(stored.padding_seed)) },
    );
    if (tree.rootHash !== stored.root_hash) throw new Error(`the rebuilt ${currency} tree of ${date} has root ${tree.rootHash}, not the sealed ${stored.root_hash}`);
    this.trees.set(key, tree);
    while (this.trees.size > treesCachedMax) this.trees.delete(this.trees.keys().next().value as string);
    return tree;
  }
}

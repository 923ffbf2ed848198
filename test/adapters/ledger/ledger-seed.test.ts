import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLedgerBatch, type LedgerWatermark } from '../../../src/adapters/ledger/ledger-follower.js';
import { readLedgerSeed, readLedgerSumsAfter, readUnbalancedJournals, type LedgerSeed } from '../../../src/adapters/ledger/ledger-seed.js';
import { createPool, type Pool } from '../../../src/db/pool.js';
import { createTestDatabase } from '../../support/database.js';
import { insertTransactionAcrossPowerOfTen } from '../../support/ledger-ids.js';

let pool: Pool;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
const currencies = ['BTC', 'ETH'];
const minorOfUnit = 10n ** 18n;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool(database.url, 12);
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

/** One balanced journal in its own transaction: +amount (minor units) to the user, −amount to house:custody. */
async function commitJournal(journalId: string, userId: string, currency: string, amount: bigint): Promise<void> {
  await pool.query(
    `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
     VALUES ($1, $2, $3, $4::numeric / 1e18, 'test', $1), ($1, 'house:custody', $3, -$4::numeric / 1e18, 'test', $1)`,
    [journalId, userId, currency, amount.toString()],
  );
}

const keyOf = (userId: string, currency: string): string => `${userId}/${currency}`;

/**
 * `count` writers committing balanced journals until stopped, each holding its transaction open
 * a few ms (up to `holdMsMax`) after its insert: transactions overlap, so a later xid often
 * commits while an earlier one is still open (the case an id or xid watermark alone gets wrong).
 */
function startOverlappingWriters(options: { count: number; prefix: string; userStride: number; holdMsMax: number }): { committed(): number; stop(): Promise<void> } {
  let writing = true;
  let committed = 0;
  const writers = Array.from({ length: options.count }, async (_, w) => {
    for (let i = 0; writing; i++) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
           VALUES ($1, $2, $3, $4::numeric / 1e18, 'test', $1), ($1, 'house:custody', $3, -$4::numeric / 1e18, 'test', $1)`,
          [`${options.prefix}${w}-${i}`, `u${(w * options.userStride + i) % 20}`, currencies[(w + i) % 2], (BigInt(w * 1_000 + i + 1) * 10n ** 15n).toString()]);
        await new Promise((r) => setTimeout(r, (w * 3 + i) % options.holdMsMax));
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      committed++;
    }
  });
  return {
    committed: () => committed,
    async stop() {
      writing = false;
      await Promise.all(writers);
    },
  };
}

/** What the table holds now, per (account, currency), in minor units. */
async function tableTotals(): Promise<Map<string, bigint>> {
  const result = await pool.query<{ user_id: string; currency: string; total: string }>(
    'SELECT user_id, currency, (sum(amount) * 1e18)::numeric(60,0)::text AS total FROM ledger_entries GROUP BY 1, 2');
  return new Map(result.rows.map((r) => [keyOf(r.user_id, r.currency), BigInt(r.total)]));
}

/** The seed, then the follower from its watermark until it has read every row in the table: Σ per key, and how many rows each part gave. */
async function seedThenFollow(seed: LedgerSeed): Promise<{ totals: Map<string, bigint>; followed: number; positions: Set<string> }> {
  const totals = new Map<string, bigint>();
  for (const t of seed.totals) totals.set(keyOf(t.userId, t.currency), t.totalMinor);
  const positions = new Set<string>();
  const tableRows = Number((await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM ledger_entries')).rows[0]?.n);
  let mark: LedgerWatermark = seed.watermark;
  let followed = 0;
  while (Number(seed.rows) + followed < tableRows) {
    const batch = await readLedgerBatch(pool, mark, 500);
    for (const row of batch.rows) {
      const position = `${row.txId}:${row.id}`;
      expect(positions.has(position)).toBe(false);
      expect(row.txId >= seed.horizonTxId).toBe(true); // never a row the seed already summed
      positions.add(position);
      totals.set(keyOf(row.userId, row.currency), (totals.get(keyOf(row.userId, row.currency)) ?? 0n) + row.amountMinor);
    }
    followed += batch.rows.length;
    mark = batch.next;
    if (batch.rows.length === 0) await new Promise((r) => setTimeout(r, 20));
  }
  return { totals, followed, positions };
}

describe('seeding the ledger side at a consistent watermark', () => {
  it('seed + follow from its watermark gives exact totals while rows commit concurrently (none missed, none counted twice)', { timeout: 60_000 }, async () => {
    for (let i = 0; i < 200; i++) await commitJournal(`pre-${i}`, `u${i % 20}`, currencies[i % 2] as string, BigInt(i + 1) * minorOfUnit);
    // Eight writers commit journals for the whole time the seeds run (and a while after).
    const writers = startOverlappingWriters({ count: 8, prefix: 'w', userStride: 7, holdMsMax: 12 });
    await new Promise((r) => setTimeout(r, 200));
    const committedBefore = writers.committed();
    const seeds: LedgerSeed[] = [];
    for (let i = 0; i < 10; i++) {
      seeds.push(await readLedgerSeed(pool));
      await new Promise((r) => setTimeout(r, 15));
    }
    await new Promise((r) => setTimeout(r, 200));
    await writers.stop();
    expect(writers.committed() - committedBefore).toBeGreaterThan(20);

    const expected = await tableTotals();
    for (const seed of seeds) {
      const { totals, followed } = await seedThenFollow(seed);
      expect(followed).toBeGreaterThan(0); // the writers committed past every seed
      // (How many rows a seed sums depends on the horizon, which is cluster-wide: a transaction
      // open in another database holds it back. Exactness does not.)
      expect(new Map([...totals].filter(([, v]) => v !== 0n))).toEqual(new Map([...expected].filter(([, v]) => v !== 0n)));
      expect((await readUnbalancedJournals(pool, seed.horizonTxId, 10)).journals).toEqual([]);
    }
  });

  it('a transaction open during the seed and committed after it is left to the follower, with every row committed past it', { timeout: 60_000 }, async () => {
    const long = await pool.connect();
    try {
      await long.query('BEGIN');
      await long.query(
        `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
         VALUES ('long', 'ulong', 'BTC', 7, 'test', 'long'), ('long', 'house:custody', 'BTC', -7, 'test', 'long')`);
      const longTx = BigInt((await long.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]?.x ?? '0');
      // Committed after the long transaction began: a later xid, above the horizon it holds back.
      await commitJournal('after-long', 'uafter', 'ETH', 3n * minorOfUnit);
      const seed = await readLedgerSeed(pool);
      expect(seed.horizonTxId <= longTx).toBe(true);
      expect(seed.watermark.txId < longTx).toBe(true);
      const seeded = new Map(seed.totals.map((t) => [keyOf(t.userId, t.currency), t.totalMinor]));
      expect(seeded.has(keyOf('ulong', 'BTC'))).toBe(false);
      expect(seeded.has(keyOf('uafter', 'ETH'))).toBe(false);
      await long.query('COMMIT');

      const { totals, positions } = await seedThenFollow(seed);
      expect(totals.get(keyOf('ulong', 'BTC'))).toBe(7n * minorOfUnit);
      expect(totals.get(keyOf('uafter', 'ETH'))).toBe(3n * minorOfUnit);
      expect(positions.size).toBe(4);
      expect(totals).toEqual(await tableTotals());
    } finally {
      long.release();
    }
  });

  it('the watermark is the last row below the horizon by number, not as text: ids across a power of ten (9999 → 10000) are not read twice', { timeout: 60_000 }, async () => {
    // The next ids straddle a power of ten: as text "9999" sorts after "10005". One transaction holds them all.
    const power = await insertTransactionAcrossPowerOfTen(pool, { prefix: 'straddle', userId: 'ustraddle', currency: 'BTC' });
    const last = (await pool.query<{ tx_id: string; id: string }>('SELECT tx_id::text AS tx_id, id::text AS id FROM ledger_entries e ORDER BY e.tx_id DESC, e.id DESC LIMIT 1')).rows[0];
    expect(BigInt(last?.id ?? '0')).toBe(power + 5n);
    const seed = await readLedgerSeed(pool);
    // The horizon is cluster-wide (another database's open transaction holds it back): only judged once the seed covers the straddling transaction.
    if (seed.horizonTxId <= BigInt(last?.tx_id ?? '0')) return;
    expect(seed.watermark).toEqual({ txId: BigInt(last?.tx_id ?? '0'), id: power + 5n });
    const { totals } = await seedThenFollow(seed);
    expect(totals).toEqual(await tableTotals());
    expect((await readLedgerBatch(pool, seed.watermark, 100)).rows.filter((r) => r.txId < seed.horizonTxId)).toEqual([]);
  });

  it('sums past a watermark (a checkpoint\'s catch-up) + follow from their watermark give exact totals while rows commit, ids crossing a power of ten', { timeout: 60_000 }, async () => {
    // A checkpoint's watermark: the follower has read to here.
    const table = async (): Promise<LedgerWatermark> => {
      const r = (await pool.query<{ tx_id: string; id: string }>('SELECT e.tx_id::text AS tx_id, e.id::text AS id FROM ledger_entries e ORDER BY e.tx_id DESC, e.id DESC LIMIT 1')).rows[0];
      return { txId: BigInt(r?.tx_id ?? '0'), id: BigInt(r?.id ?? '0') };
    };
    const checkpoint = await table();
    const before = await tableTotals();
    // Past it, one transaction whose ids cross a power of ten (as text "…9999" sorts after "…10005").
    await insertTransactionAcrossPowerOfTen(pool, { prefix: 'cross', userId: 'ucross', currency: 'ETH' });
    // Writers with overlapping transactions commit while the sums are read.
    const writers = startOverlappingWriters({ count: 6, prefix: 'cw', userStride: 5, holdMsMax: 10 });
    await new Promise((r) => setTimeout(r, 150));
    const reads: LedgerSeed[] = [];
    for (let i = 0; i < 8; i++) {
      reads.push(await readLedgerSumsAfter(pool, checkpoint));
      await new Promise((r) => setTimeout(r, 15));
    }
    await new Promise((r) => setTimeout(r, 150));
    await writers.stop();

    const expected = await tableTotals();
    const tableRows = Number((await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM ledger_entries')).rows[0]?.n);
    const rowsToCheckpoint = Number((await pool.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM ledger_entries e WHERE (e.tx_id, e.id) <= ($1::text::xid8, $2::bigint)', [checkpoint.txId.toString(), checkpoint.id.toString()])).rows[0]?.n);
    const nonZero = (m: Map<string, bigint>) => new Map([...m].filter(([, v]) => v !== 0n));
    for (const sums of reads) {
      expect(sums.watermark.id > checkpoint.id || sums.watermark.txId > checkpoint.txId).toBe(true);
      // The checkpoint's totals, plus the sums past it, plus what the follower reads from their watermark: the table, each row once.
      const totals = new Map(before);
      for (const t of sums.totals) totals.set(keyOf(t.userId, t.currency), (totals.get(keyOf(t.userId, t.currency)) ?? 0n) + t.totalMinor);
      let mark: LedgerWatermark = sums.watermark;
      let rows = rowsToCheckpoint + Number(sums.rows);
      const deadline = Date.now() + 30_000;
      for (;;) {
        const batch = await readLedgerBatch(pool, mark, 500);
        if (batch.rows.length === 0) {
          // The read horizon is cluster-wide: a transaction open in another test's database holds
          // it back, and the follower reads the rows past it once it moves (as it would in production).
          if (rows >= tableRows || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        for (const row of batch.rows) {
          expect(row.txId >= sums.horizonTxId).toBe(true); // never a row the sums already hold
          totals.set(keyOf(row.userId, row.currency), (totals.get(keyOf(row.userId, row.currency)) ?? 0n) + row.amountMinor);
        }
        rows += batch.rows.length;
        mark = batch.next;
      }
      expect(rows).toBe(tableRows);
      expect(nonZero(totals)).toEqual(nonZero(expected));
      expect((await readUnbalancedJournals(pool, sums.horizonTxId, 10, checkpoint)).journals).toEqual([]);
    }
    // The crossing transaction is summed whole, once: its user's total is the 5 rows of +1.
    expect(expected.get(keyOf('ucross', 'ETH'))).toBe(5n * minorOfUnit);
    // Past the last row: no sums, the watermark unchanged.
    const end = await table();
    const none = await readLedgerSumsAfter(pool, end);
    expect(none.totals).toEqual([]);
    expect(none.rows).toBe(0n);
    expect(none.watermark).toEqual(end);
  });

  it('lists the journals below a horizon that do not sum to zero, whenever asked (the rows there are final)', async () => {
    await pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
       VALUES ('lopsided', 'ubad', 'ETH', 5, 'test', 'x'), ('lopsided', 'house:custody', 'ETH', -4, 'test', 'x')`);
    // A horizon past that journal (a transaction id taken after it committed; the real horizon is
    // cluster-wide and may lag behind other databases' transactions).
    const horizon = BigInt((await pool.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]?.x ?? '0');
    // Another lopsided journal after it: above the horizon, so not in its check.
    await pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
       VALUES ('later', 'ubad', 'BTC', 1, 'test', 'y')`);
    const checked = await readUnbalancedJournals(pool, horizon, 10);
    expect(checked.journals).toEqual([expect.objectContaining({ journalId: 'lopsided', currency: 'ETH', sumMinor: minorOfUnit })]);
    expect(checked.truncated).toBe(false);
    const capped = await readUnbalancedJournals(pool, horizon, 0);
    expect(capped).toEqual({ journals: [], truncated: true });
  });
});

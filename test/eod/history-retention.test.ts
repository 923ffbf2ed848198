import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { pruneCloseInputs } from '../../src/eod/history-retention.js';
import { claimFence, type Fence } from '../../src/supervisor/fence.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { silentLogger } from '../support/log.js';

const dayMs = 86_400_000;
const cutoverMs = Date.parse('2026-11-30T00:00:00Z');
const fence: Fence = { lease: 'retention', token: 3, holder: 'test' };
let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool(db.url, 2);
  await claimFence(pool, fence);
  // 25,000 engine events an hour apart before the cutover (more than two delete batches), and polls every 6 hours.
  await pool.query(
    `INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts)
     SELECT n, 'u' || (n % 50), 'BTC', n, 0, n, $1::timestamptz - make_interval(hours => 25000 - n) FROM generate_series(1, 25000) n`,
    [new Date(cutoverMs).toISOString()]);
  await pool.query(
    `INSERT INTO custody_poll_readings (wallet, currency, polled_at, balance)
     SELECT 'w1', 'BTC', $1::timestamptz - make_interval(hours => 6 * n), 1 FROM generate_series(0, 100) n`,
    [new Date(cutoverMs).toISOString()]);
});

afterAll(async () => {
  await pool.end();
  await db.drop();
});

describe('pruning the close inputs after a seal', () => {
  it('deletes exactly the rows older than the retention before the sealed cutover, in batches', async () => {
    const cutoff = new Date(cutoverMs - 30 * dayMs).toISOString();
    const expected = await pool.query<{ engine: number; polls: number }>(
      `SELECT (SELECT count(*)::int FROM engine_balance_history WHERE ts < $1) AS engine, (SELECT count(*)::int FROM custody_poll_readings WHERE polled_at < $1) AS polls`, [cutoff]);
    expect(expected.rows[0]!.engine).toBeGreaterThan(20_000);
    const deleted = await pruneCloseInputs(pool, fence, cutoverMs, 30, silentLogger());
    expect(deleted).toEqual({ engine_balance_history: expected.rows[0]!.engine, custody_poll_readings: expected.rows[0]!.polls });
    const left = await pool.query<{ oldest: Date; n: number }>('SELECT min(ts) AS oldest, count(*)::int AS n FROM engine_balance_history');
    expect(left.rows[0]!.oldest.getTime()).toBeGreaterThanOrEqual(cutoverMs - 30 * dayMs);
    expect(left.rows[0]!.n).toBe(25_000 - expected.rows[0]!.engine);
    expect(await pruneCloseInputs(pool, fence, cutoverMs, 30, silentLogger())).toEqual({ engine_balance_history: 0, custody_poll_readings: 0 });
  });

  it('a deposed leader prunes nothing', async () => {
    await claimFence(pool, { ...fence, token: 4 });
    await expect(pruneCloseInputs(pool, fence, cutoverMs, 1, silentLogger())).rejects.toThrow(/fence/);
    const left = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM engine_balance_history WHERE ts < $1', [new Date(cutoverMs - dayMs).toISOString()]);
    expect(left.rows[0]!.n).toBeGreaterThan(0);
  });
});

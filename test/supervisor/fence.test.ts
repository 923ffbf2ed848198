import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { assertFence, claimFence, FencedError, withFencedTransaction, type Fence } from '../../src/supervisor/fence.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let database: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool(database.url, 4);
  await pool.query('CREATE TABLE fenced_writes (holder text NOT NULL)');
});

afterAll(async () => {
  await pool.end();
  await database.drop();
});

const write = (fence: Fence): Promise<void> =>
  withFencedTransaction(pool, fence, async (client) => {
    await client.query('INSERT INTO fenced_writes (holder) VALUES ($1)', [fence.holder]);
  });

const writesBy = async (holder: string): Promise<number> =>
  (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM fenced_writes WHERE holder = $1', [holder])).rows[0]?.n ?? 0;

describe('lease fences', () => {
  it('refuses the writes of a holder whose lease a newer holder has claimed', async () => {
    const old: Fence = { lease: 'leader-a', token: 7, holder: 'old' };
    const next: Fence = { lease: 'leader-a', token: 12, holder: 'next' };
    await claimFence(pool, old);
    await write(old);
    await claimFence(pool, next);
    await expect(write(old)).rejects.toBeInstanceOf(FencedError);
    await write(next);
    expect(await writesBy('old')).toBe(1);
    expect(await writesBy('next')).toBe(1);
    // An older token can never claim back over a newer one.
    await expect(claimFence(pool, old)).rejects.toThrow(/newer holder/);
  });

  it('refuses a write under a lease nobody has claimed', async () => {
    await expect(write({ lease: 'never-claimed', token: 1, holder: 'x' })).rejects.toThrow(/not the current token \(none\)/);
  });

  it('a claim waits for the previous holder\'s transaction in flight, which then commits before it', async () => {
    const old: Fence = { lease: 'leader-b', token: 3, holder: 'old-b' };
    const next: Fence = { lease: 'leader-b', token: 4, holder: 'next-b' };
    await claimFence(pool, old);
    const client = await pool.connect();
    await client.query('BEGIN');
    await assertFence(client, old);
    let claimed = false;
    const claim = claimFence(pool, next).then(() => { claimed = true; });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(claimed).toBe(false);
    await client.query("INSERT INTO fenced_writes (holder) VALUES ('old-b')");
    await client.query('COMMIT');
    client.release();
    await claim;
    expect(claimed).toBe(true);
    expect(await writesBy('old-b')).toBe(1);
    await expect(write(old)).rejects.toBeInstanceOf(FencedError);
  });
});

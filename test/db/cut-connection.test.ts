import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { withTransaction } from '../../src/db/transaction.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let database: TestDatabase;
let pool: Pool;
let server: pg.Pool;

/** Cuts every connection of the pool under test (its application_name is 'recon-engine'; the scratch database is this file's own). */
async function cutConnections(): Promise<number> {
  const cut = await server.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'recon-engine'", [new URL(database.url).pathname.slice(1)]);
  return cut.rowCount ?? 0;
}

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool(database.url, 4);
  // Not 'recon-engine': the cut spares the connection that makes it.
  server = new pg.Pool({ connectionString: inject('databaseUrl'), max: 1, application_name: 'cut-connection-test' });
});

afterAll(async () => {
  await pool?.end();
  await server?.end();
  await database?.drop();
});

// Without a listener on checked-out clients, pg's 'error' event is unhandled and the process
// dies (the engine in test/reliability/nats-postgres-restart.test.ts did, mid-run).
describe('a pool connection cut while it is checked out', () => {
  it('between two statements of a transaction: the transaction fails, the process lives, the pool reconnects', async () => {
    let cutInside = 0;
    const tx = withTransaction(pool, async (client) => {
      await client.query('SELECT 1');
      cutInside = await cutConnections();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await client.query('SELECT 2');
    });
    await expect(tx).rejects.toThrow();
    expect(cutInside).toBeGreaterThan(0);
    expect((await pool.query<{ n: number }>('SELECT 3 AS n')).rows[0]?.n).toBe(3);
  });

  it('during a statement of a transaction: the statement fails, the ROLLBACK with it, the process lives', async () => {
    const tx = withTransaction(pool, async (client) => {
      await client.query('SELECT pg_sleep(5)');
    });
    // Watched before the cut: tx fails as soon as the backend goes, before cutConnections() returns.
    const failed = expect(tx).rejects.toThrow(/terminating connection/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await cutConnections()).toBeGreaterThan(0);
    await failed;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await pool.query<{ n: number }>('SELECT 4 AS n')).rows[0]?.n).toBe(4);
  });
});

import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// numeric stays a string: money is parsed into bigint minor units, never a float.
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => value);
// bigint columns (ids, revisions) come back as strings; callers convert explicitly.

export function createPool(databaseUrl: string, max = 10): Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, application_name: 'recon-engine' });
  // An idle connection the server closed (restart, shutdown) is dropped by the pool; without a
  // listener the 'error' event would crash the process. The next query reconnects or fails loudly.
  pool.on('error', () => undefined);
  // pg-pool listens only while a client is idle. A connection cut while it is checked out (a
  // transaction between statements, or one whose statement failed and whose ROLLBACK is queued)
  // emits 'error' on the client, and an unheard 'error' kills the process. The holder learns it
  // anyway: its statement fails, and release() drops a client that is no longer queryable.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

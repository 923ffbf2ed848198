import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// numeric stays a string: money is parsed into bigint minor units, never a float.
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => value);
// bigint columns (ids, revisions) come back as strings; callers convert explicitly.

export function createPool(databaseUrl: string, max = 10): Pool {
  return new pg.Pool({ connectionString: databaseUrl, max, application_name: 'recon-engine' });
}

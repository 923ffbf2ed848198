import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../observability/logger.js';
import { migrate } from './migrate.js';

/** A database of one's own on a shared server (a test file, a bench phase), migrated, dropped after. */
export interface ScratchDatabase {
  url: string;
  name: string;
  /** Drops the database, disconnecting anyone still on it. Idempotent. */
  drop(): Promise<void>;
}

/** 55006 object_in_use: template1 briefly busy when several CREATE DATABASE run at once. */
const createAttemptsMax = 10;
const createRetryMs = 100;

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Same server and credentials, another database. */
export function databaseUrlFor(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Creates `<namePrefix>_<random>` on the server at `serverUrl` and applies the migrations. */
export async function createScratchDatabase(serverUrl: string, namePrefix: string, log: Logger): Promise<ScratchDatabase> {
  const name = `${namePrefix}_${randomBytes(6).toString('hex')}`;
  await withClient(serverUrl, async (client) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${name}`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== '55006' || attempt >= createAttemptsMax) throw err;
        await new Promise((r) => setTimeout(r, createRetryMs));
      }
    }
  });
  const url = databaseUrlFor(serverUrl, name);
  await migrate(url, log);

  let dropping: Promise<void> | undefined;
  return {
    url,
    name,
    drop() {
      dropping ??= withClient(serverUrl, async (client) => {
        const { rows } = await client.query<{ server_version_num: string }>('SHOW server_version_num');
        if (Number(rows[0]?.server_version_num) >= 130_000) {
          await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } else {
          await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
          await client.query(`DROP DATABASE IF EXISTS ${name}`);
        }
      });
      return dropping;
    },
  };
}

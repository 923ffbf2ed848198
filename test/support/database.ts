/**
 * A fresh, migrated database per test file (or test) on the shared server, so
 * files run in parallel without seeing each other's rows.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { silentLogger } from './log.js';

export interface TestDatabase {
  url: string;
  name: string;
  /** Drops the database, disconnecting anyone still on it. Idempotent. */
  drop(): Promise<void>;
}

/** 55006 object_in_use: template1 briefly busy when several CREATE DATABASE run at once. */
const CREATE_ATTEMPTS_MAX = 10;
const CREATE_RETRY_MS = 100;

export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = inject('databaseUrl');
  const name = `recon_t_${randomBytes(6).toString('hex')}`;
  await withClient(serverUrl, async (client) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${name}`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== '55006' || attempt >= CREATE_ATTEMPTS_MAX) throw err;
        await new Promise((r) => setTimeout(r, CREATE_RETRY_MS));
      }
    }
  });
  const url = databaseUrlFor(serverUrl, name);
  await migrate(url, silentLogger());

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

/** Same server and credentials, another database. */
function databaseUrlFor(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

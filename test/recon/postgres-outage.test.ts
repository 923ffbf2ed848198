import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { startEngine, type Engine } from '../../src/engine/engine.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { capturingLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { streamMessages } from '../support/stream-messages.js';
import { until } from '../support/until.js';

let database: TestDatabase;
let names: NatsNames;
let engine: Engine;
let client: NatsConnection;
let pool: Pool;
/** On the server's maintenance database: survives cutting the test database's connections. */
let server: Pool;
let lines: Array<Record<string, unknown>>;
const alerts: BreakAlert[] = [];
const resolved: BreakAlert[] = [];

const databaseName = (): string => new URL(database.url).pathname.slice(1);
const listenPids = async (): Promise<number[]> =>
  (await server.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query = 'LISTEN ledger_entries_inserted'", [databaseName()])).rows.map((r) => r.pid);

beforeAll(async () => {
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  const captured = capturingLogger();
  lines = captured.lines;
  const settings = loadSettings({}, { NAMESPACE: names.namespace, COMMAND_PARTITIONS: '2', RECON_GRACE_MS: '500', LEASE_TTL_MS: '3000' });
  engine = await startEngine({ settings, natsUrl: sharedNatsUrl(), databaseUrl: database.url, log: captured.log });
  client = await connect({ servers: sharedNatsUrl() });
  pool = createPool(database.url, 2);
  server = createPool(inject('databaseUrl'), 2);
  client.subscribe(names.reconAlertSubject('me_db'), { callback: (_e, m) => void alerts.push(m.json<BreakAlert>()) });
  client.subscribe(names.reconResolvedSubject('me_db'), { callback: (_e, m) => void resolved.push(m.json<BreakAlert>()) });
  await client.flush();
  await until('leader', () => engine.isLeader());
});

afterAll(async () => {
  await server?.query(`ALTER DATABASE "${databaseName()}" ALLOW_CONNECTIONS true`).catch(() => undefined);
  await engine?.stop();
  await deleteNamespaceStreams(client, names);
  await client?.close();
  await pool?.end();
  await server?.end();
  await database?.drop();
});

describe('Postgres cut from under the reconciler', () => {
  it('the ledger LISTEN comes back after pg_terminate_backend', async () => {
    const [before] = await until('listening', async () => { const p = await listenPids(); return p.length === 1 && p; });
    await server.query('SELECT pg_terminate_backend($1)', [before]);
    const after = await until('listening again', async () => { const p = await listenPids(); return p.length === 1 && p[0] !== before && p; }, 15_000);
    expect(after[0]).not.toBe(before);
    expect(lines.some((l) => l.event === 'ledger.listen_reconnected')).toBe(true);
  });

  it('while Postgres refuses connections the reconciler still pages once (through NATS first), records that page when Postgres is back, and resolves it', async () => {
    const metaBefore = alerts.filter((a) => a.kind === 'reconciler_error').length;
    await server.query(`ALTER DATABASE "${databaseName()}" ALLOW_CONNECTIONS false`);
    await server.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [databaseName()]);
    const meta = await until('a reconciler_error page during the outage', () => alerts.slice(metaBefore).find((a) => a.kind === 'reconciler_error'), 20_000);
    await new Promise((r) => setTimeout(r, 3_000)); // many more errors: still one page
    expect(alerts.filter((a) => a.kind === 'reconciler_error')).toHaveLength(metaBefore + 1);
    await server.query(`ALTER DATABASE "${databaseName()}" ALLOW_CONNECTIONS true`);

    await until('the page recorded under its own break id', async () =>
      (await pool.query("SELECT 1 FROM recon_breaks WHERE id = $1 AND kind = 'reconciler_error'", [meta.breakId]).catch(() => ({ rowCount: 0 }))).rowCount === 1, 20_000);
    await until('resolved once the reconciler works again', () => resolved.find((r) => r.breakId === meta.breakId), 20_000);
    // The stream holds it once (the outbox's repeat of the alert was deduplicated by its Nats-Msg-Id).
    const onStream = (await streamMessages(jetstream(client), names.reconStream))
      .filter((msg) => msg.subject === names.reconAlertSubject('me_db')).map((msg) => msg.json<BreakAlert>());
    expect(onStream.filter((a) => a.breakId === meta.breakId)).toHaveLength(1);
    // Core subscribers too saw it once: recording it did not publish it again.
    expect(alerts.filter((a) => a.breakId === meta.breakId)).toHaveLength(1);
    // Commands flow again.
    const reply = (await client.request(`${names.adminPrefix}.account.create`, JSON.stringify({ userId: 'pg1' }), { timeout: 15_000 })).json<{ state?: string }>();
    expect(reply.state).toBe('pending_kyc');
  });
});

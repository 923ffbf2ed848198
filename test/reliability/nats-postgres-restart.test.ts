import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startExchangeSimulator, type ExchangeSimulator } from '../../src/adapters/exchange-simulator/index.js';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { EngineProcess, engineAnswers } from '../support/engine-process.js';
import { silentLogger } from '../support/log.js';
import { startPrivateNats, type PrivateNats } from '../support/nats.js';
import { until } from '../support/until.js';
import { breakRows, disagreements } from './recon-support.js';

const users = ['nr01', 'nr02', 'nr03', 'nr04', 'nr05', 'nr06'];
let database: TestDatabase;
let nats: PrivateNats;
let names: NatsNames;
let nc: NatsConnection;
let js: JetStreamClient;
let pool: Pool;
let server: Pool;
let engine: EngineProcess;
let sim: ExchangeSimulator | null = null;

const admin = async (relative: string, body: unknown): Promise<Record<string, unknown>> =>
  (await nc.request(`${names.adminPrefix}.${relative}`, JSON.stringify(body), { timeout: 15_000 })).json();

/** On a timeout: whether the engine still runs, and its last log lines (it once died on a cut connection). */
const engineState = { pollMs: 200, detail: () => `engine running: ${engine.running}; its log ends: ${engine.output.slice(-3_000)}` };

/** One fault on `userId`: it must page once and freeze the account, and resolve once fixed. */
async function faultPagesOnce(userId: string): Promise<void> {
  const handle = sim!.faults.engineOnlyChange({ userId, currency: 'USDT', deltaMinor: 2_000_000_000_000_000_000n });
  await handle.settled;
  const row = await until(`${userId}'s break`, async () => (await breakRows(pool)).find((r) => r.user_id === userId), 60_000, engineState);
  await until(`${userId} frozen`, async () => (await admin('account.get', { userId }).catch((): Record<string, unknown> => ({}))).state === 'suspended', 30_000, engineState);
  await sim!.fix(handle.faultId);
  await until(`${userId}'s break resolved`, async () => (await breakRows(pool)).find((r) => r.id === row.id)?.resolved, 60_000, engineState);
}

beforeAll(async () => {
  database = await createTestDatabase();
  nats = await startPrivateNats();
  names = natsNames('');
  nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  js = jetstream(nc);
  // Not 'recon-engine': the test cuts only the engine's connections.
  pool = new pg.Pool({ connectionString: database.url, max: 2, application_name: 'recon-test' });
  pool.on('error', () => undefined);
  server = createPool(inject('databaseUrl'), 1);
  engine = new EngineProcess({ NATS_URL: nats.url, DATABASE_URL: database.url, COMMAND_PARTITIONS: '4', RECON_GRACE_MS: '1000', INSTANCE_ID: 'nats-pg-restart' });
});

afterAll(async () => {
  await sim?.stop().catch(() => undefined);
  await engine?.kill();
  await nc?.close().catch(() => undefined);
  await nats?.stop();
  await pool?.end();
  await server?.end();
  await database?.drop();
});

describe('the engine recovers by itself', () => {
  it('from a NATS restart mid-flow and from its Postgres connections being cut; faults still page once', async () => {
    engine.start();
    await engineAnswers(nc, names);
    for (const userId of users) {
      await admin('account.create', { userId });
      await admin('account.transition', { userId, target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' });
      await admin('account.transition', { userId, target: 'active', reasonCode: 'first_deposit', authority: 'system', actorId: 'ledger' });
    }
    sim = await startExchangeSimulator({ nc, pool, names, seed: 5, rateEventsPerSec: 100, users, currencies: ['BTC', 'USDT'], log: silentLogger() });
    await faultPagesOnce('nr01');

    // NATS goes away and comes back (same port and store), mid-flow of commands. The simulated
    // exchange pauses over it: its engine events would be lost while its ledger writes went on,
    // a real difference the reconciler would rightly page (the real engine re-sends).
    await sim.pause({ drainDelayed: true });
    const inFlight = Promise.allSettled(Array.from({ length: 20 }, (_, i) => admin('account.create', { userId: `nr-during-${i}` })));
    await nats.restart();
    await engineAnswers(nc, names);
    sim.resume();
    const during = await inFlight;
    // Each create either landed once or failed visibly (its request died with the server); a retry settles it.
    for (let i = 0; i < 20; i++) {
      const reply = await admin('account.create', { userId: `nr-during-${i}` });
      expect(reply.state === 'pending_kyc' || (reply.error as { code?: string } | undefined)?.code === 'CONFLICT').toBe(true);
    }
    expect(during.length).toBe(20);
    await faultPagesOnce('nr02');
    expect((await admin('account.create', { userId: 'nr-after-nats' })).state).toBe('pending_kyc');

    // Every connection of the engine to Postgres is cut.
    const cut = await server.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'recon-engine'", [new URL(database.url).pathname.slice(1)]);
    expect(cut.rowCount).toBeGreaterThan(0);
    await faultPagesOnce('nr03');
    expect((await admin('account.create', { userId: 'nr-after-pg' })).state).toBe('pending_kyc');

    await sim.pause();
    await new Promise((r) => setTimeout(r, 2_000));
    const rows = await breakRows(pool);
    console.log(JSON.stringify({ event: 'nats_pg_restart', breaks: rows.map((r) => `${r.kind}:${r.user_id ?? ''}`), pgConnectionsCut: cut.rowCount }));
    expect(rows.map((r) => `${r.kind}:${r.user_id}`).sort()).toEqual(['balance:nr01', 'balance:nr02', 'balance:nr03']);
    expect(await disagreements(pool, js, names)).toEqual([]);
    expect(engine.running).toBe(true);
  }, 180_000);
});

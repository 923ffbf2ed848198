import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { EngineProcess, engineAnswers } from '../support/engine-process.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { streamMessages } from '../support/stream-messages.js';
import { until } from '../support/until.js';

let database: TestDatabase;
let names: NatsNames;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let pool: Pool;
let engine: EngineProcess;

const admin = async (relative: string, body: unknown): Promise<Record<string, unknown>> =>
  (await nc.request(`${names.adminPrefix}.${relative}`, JSON.stringify(body), { timeout: 15_000 })).json();

/** Every message on `subject` in the RECON_EVENTS stream. */
async function reconMessages(subject: string): Promise<BreakAlert[]> {
  return (await streamMessages(js, names.reconStream, 500)).filter((msg) => msg.subject === subject).map((msg) => msg.json<BreakAlert>());
}

beforeAll(async () => {
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  pool = createPool(database.url, 4);
  engine = new EngineProcess({
    NATS_URL: sharedNatsUrl(), DATABASE_URL: database.url, NAMESPACE: names.namespace, COMMAND_PARTITIONS: '4',
    RECON_GRACE_MS: '1000', LEASE_TTL_MS: '3000', INSTANCE_ID: `outbox-${names.namespace}`,
  });
});

afterAll(async () => {
  await engine?.kill();
  await deleteNamespaceStreams(nc, names);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

describe('break effects survive a crash (outbox)', () => {
  it('the alert publish fails, the engine is killed; after the restart the alert is on the stream once and the account is frozen', async () => {
    engine.start();
    await engineAnswers(nc, names);
    await admin('account.create', { userId: 'ob1' });
    await admin('account.transition', { userId: 'ob1', target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' });
    await admin('account.transition', { userId: 'ob1', target: 'active', reasonCode: 'first_deposit', authority: 'system', actorId: 'ledger' });
    await until('me_db running on the leader', async () => {
      const status = (await admin('recon.status', {})) as { boundaries?: Array<{ name: string; enabled: boolean }> };
      return status.boundaries?.some((b) => b.name === 'me_db' && b.enabled);
    }, 30_000);

    // The alert stream is gone: the break is recorded, its alert cannot be published.
    await jsm.streams.delete(names.reconStream);
    await js.publish(names.meBalanceSubject('ob1'), JSON.stringify({ seq: 1, userId: 'ob1', currency: 'USDT', total: '5', locked: '0', available: '5', ts: new Date().toISOString() }));
    const breakRow = await until('the break row', async () =>
      (await pool.query<{ id: string }>("SELECT id FROM recon_breaks WHERE boundary = 'me_db' AND kind = 'balance' AND user_id = 'ob1'")).rows[0], 30_000);
    await until('the alert failed at least once', async () =>
      (await pool.query<{ attempts: number }>("SELECT attempts FROM recon_outbox WHERE msg_id = $1 AND done_at IS NULL AND attempts >= 1", [`alert:${breakRow.id}`])).rows[0], 15_000);

    await engine.kill('SIGKILL');
    const pendingAtKill = await pool.query<{ msg_id: string }>('SELECT msg_id FROM recon_outbox WHERE done_at IS NULL');
    expect(pendingAtKill.rows.map((r) => r.msg_id)).toContain(`alert:${breakRow.id}`);

    engine.start(); // its topology recreates RECON_EVENTS; the outbox is re-driven on start
    await engineAnswers(nc, names);
    await until('every effect carried out', async () =>
      (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recon_outbox WHERE done_at IS NULL')).rows[0]?.n === 0, 30_000);
    await until('ob1 frozen', async () => (await admin('account.get', { userId: 'ob1' })).state === 'suspended', 15_000);
    await new Promise((r) => setTimeout(r, 2_000)); // nothing more may follow
    const alerts = (await reconMessages(names.reconAlertSubject('me_db'))).filter((a) => a.breakId === breakRow.id);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ boundary: 'me_db', kind: 'balance', userId: 'ob1', currency: 'USDT', left: '5', right: '0', delta: '5', firstSeenAt: expect.any(String) });
    const freezes = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM account_state_transitions WHERE command_id = $1", [`freeze:${breakRow.id}`]);
    expect(freezes.rows[0]?.n).toBe(1);
    const events = await pool.query<{ event: string }>('SELECT event FROM recon_break_events WHERE break_id = $1 ORDER BY id', [breakRow.id]);
    expect(events.rows.map((r) => r.event)).toEqual(['raised']);

    // The ledger catches up: the resolution carries the agreed amounts, the last difference beside them.
    await pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
       VALUES ('j-ob1', 'ob1', 'USDT', 5, 'deposit', 'd1'), ('j-ob1', 'house:custody', 'USDT', -5, 'deposit', 'd1')`);
    await until('resolved', async () => (await reconMessages(names.reconResolvedSubject('me_db'))).some((r) => r.breakId === breakRow.id), 20_000);
    const resolution = (await reconMessages(names.reconResolvedSubject('me_db'))).find((r) => r.breakId === breakRow.id);
    expect(resolution).toMatchObject({ left: '5', right: '5', delta: '0', lastLeft: '5', lastRight: '0', lastDelta: '5', resolvedAt: expect.any(String) });
    const after = await pool.query<{ event: string; delta: string | null }>('SELECT event, delta::text FROM recon_break_events WHERE break_id = $1 ORDER BY id', [breakRow.id]);
    expect(after.rows.map((r) => r.event)).toEqual(['raised', 'resolved']);
    await expect(pool.query('UPDATE recon_break_events SET event = $1', ['raised'])).rejects.toThrow();
    await expect(pool.query('DELETE FROM recon_break_events')).rejects.toThrow();
  });
});

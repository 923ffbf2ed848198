import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BitgoSimulator, randomV2AccessToken } from '../../src/adapters/bitgo/simulator/index.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { EngineProcess, engineAnswers } from '../support/engine-process.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { streamMessages } from '../support/stream-messages.js';
import { until } from '../support/until.js';

const cycles = 6;
const sat = (btc: number): bigint => BigInt(Math.round(btc * 1e8));
let database: TestDatabase;
let names: NatsNames;
let nc: NatsConnection;
let js: JetStreamClient;
let pool: Pool;
let bitgo: BitgoSimulator;
let engine: EngineProcess;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const between = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min));

async function custodyBreaks(): Promise<Array<{ id: string; resolved: boolean }>> {
  return (await pool.query<{ id: string; resolved: boolean }>("SELECT id, resolved_at IS NOT NULL AS resolved FROM recon_breaks WHERE boundary = 'db_custody' AND kind = 'balance' ORDER BY first_seen_at")).rows;
}

/** Every message of `stream` as its subject and the break it is about. */
async function breakMessages(stream: string): Promise<Array<{ subject: string; breakId: string }>> {
  return (await streamMessages(js, stream, 500)).map((msg) => ({ subject: msg.subject, breakId: msg.json<{ breakId: string }>().breakId }));
}

/** Kills the engine at a random moment within `withinMs` and restarts it. */
async function killSoon(withinMs: number): Promise<void> {
  await sleep(between(0, withinMs));
  await engine.kill('SIGKILL');
  engine.start();
  await engineAnswers(nc, names);
}

beforeAll(async () => {
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  js = jetstream(nc);
  pool = createPool(database.url, 2);
  const accessToken = randomV2AccessToken();
  bitgo = await BitgoSimulator.start({ accessToken, wallets: [{ coin: 'tbtc', id: 'w1', balance: sat(1) }] });
  await pool.query(
    `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
     VALUES ('j-d', 'u1', 'BTC', 1, 'deposit', 'd1'), ('j-d', 'house:custody', 'BTC', -1, 'deposit', 'd1')`);
  engine = new EngineProcess({
    NATS_URL: sharedNatsUrl(), DATABASE_URL: database.url, NAMESPACE: names.namespace, COMMAND_PARTITIONS: '2',
    RECON_GRACE_MS: '500', BITGO_ROOT_URI: bitgo.url, BITGO_ACCESS_TOKEN: accessToken, BITGO_WALLETS: 'BTC=tbtc:w1', BITGO_POLL_MS: '300',
    INSTANCE_ID: `custody-kill-${names.namespace}`,
  });
});

afterAll(async () => {
  await engine?.kill();
  await bitgo?.stop();
  await deleteNamespaceStreams(nc, names);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

describe('SIGKILL loop across custody breaks', () => {
  it('every withdrawal pause and resume is published exactly once per break, whatever moment the engine dies at', async () => {
    engine.start();
    await engineAnswers(nc, names);
    let kills = 0;
    for (let cycle = 0; cycle < cycles; cycle++) {
      bitgo.drift('w1', -sat(0.5)); // custody lost half a coin: a break, withdrawals paused
      await killSoon(2_500);
      kills++;
      await until(`break ${cycle + 1}`, async () => (await custodyBreaks()).length === cycle + 1, 60_000, 200);
      bitgo.drift('w1', sat(0.5)); // back: resolved, withdrawals resumed
      await killSoon(2_500);
      kills++;
      await until(`break ${cycle + 1} resolved`, async () => (await custodyBreaks()).every((b) => b.resolved), 60_000, 200);
    }
    await until('every effect done', async () =>
      (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recon_outbox WHERE done_at IS NULL')).rows[0]!.n === 0, 30_000, 200);
    await sleep(1_000);

    const breaks = await custodyBreaks();
    const withdrawals = await breakMessages(names.custodyStream);
    const recon = await breakMessages(names.reconStream);
    console.log(JSON.stringify({ event: 'custody_kill_loop', kills, breaks: breaks.length, withdrawals: withdrawals.length, recon: recon.length }));
    expect(kills).toBe(cycles * 2);
    expect(breaks).toHaveLength(cycles);
    for (const b of breaks) {
      expect(withdrawals.filter((w) => w.breakId === b.id && w.subject === names.custodyWithdrawalsPausedSubject('BTC'))).toHaveLength(1);
      expect(withdrawals.filter((w) => w.breakId === b.id && w.subject === names.custodyWithdrawalsResumedSubject('BTC'))).toHaveLength(1);
      expect(recon.filter((r) => r.breakId === b.id && r.subject === names.reconAlertSubject('db_custody'))).toHaveLength(1);
      expect(recon.filter((r) => r.breakId === b.id && r.subject === names.reconResolvedSubject('db_custody'))).toHaveLength(1);
    }
    expect(withdrawals).toHaveLength(cycles * 2);
    // Nothing else on db_custody (no unreachable, no reconciler_error); me_db rightly pages u1, whose
    // deposit the engine never saw (there is no engine in this test), and nothing more.
    const others = await pool.query<{ boundary: string; kind: string; user_id: string | null }>(
      "SELECT boundary, kind, user_id FROM recon_breaks WHERE NOT (boundary = 'db_custody' AND kind = 'balance')");
    expect(others.rows).toEqual([{ boundary: 'me_db', kind: 'balance', user_id: 'u1' }]);
  }, 240_000);
});

import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExchangeSimulator, type ExchangeSimulator } from '../../src/adapters/exchange-simulator/index.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { EngineProcess, engineAnswers } from '../support/engine-process.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';
import { breakRows, disagreements } from './recon-support.js';

const killsMin = 20;
const users = Array.from({ length: 12 }, (_, i) => `kl${String(i + 1).padStart(2, '0')}`);
let database: TestDatabase;
let names: NatsNames;
let nc: NatsConnection;
let js: JetStreamClient;
let pool: Pool;
let engine: EngineProcess;
let sim: ExchangeSimulator | null = null;

const admin = async (relative: string, body: unknown): Promise<Record<string, unknown>> =>
  (await nc.request(`${names.adminPrefix}.${relative}`, JSON.stringify(body), { timeout: 15_000 })).json();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const between = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min));

beforeAll(async () => {
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  js = jetstream(nc);
  pool = createPool(database.url, 4);
  engine = new EngineProcess({
    NATS_URL: sharedNatsUrl(), DATABASE_URL: database.url, NAMESPACE: names.namespace, COMMAND_PARTITIONS: '4',
    RECON_GRACE_MS: '1000', INSTANCE_ID: `kill-loop-${names.namespace}`,
  });
});

afterAll(async () => {
  await sim?.stop();
  await engine?.kill();
  await deleteNamespaceStreams(nc, names);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

describe('SIGKILL loop under a simulated workload with periodic faults', () => {
  it(`≥ ${killsMin} kills: every fault pages once, every freeze applies once, no false break; table, outbox and stream agree`, async () => {
    engine.start();
    await engineAnswers(nc, names);
    for (const userId of users) {
      await admin('account.create', { userId });
      await admin('account.transition', { userId, target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' });
      await admin('account.transition', { userId, target: 'active', reasonCode: 'first_deposit', authority: 'system', actorId: 'ledger' });
    }
    sim = await startExchangeSimulator({ nc, pool, names, seed: 11, rateEventsPerSec: 150, users, currencies: ['BTC', 'USDT'], log: silentLogger() });

    let kills = 0;
    let killing = true;
    const faulted: string[] = [];
    const faultLoop = (async () => {
      for (const userId of users) {
        await sleep(between(2_000, 5_000));
        if (!killing) return;
        const handle = sim!.faults.engineOnlyChange({ userId, currency: 'USDT', deltaMinor: 1_234_000_000_000_000_000n });
        await handle.settled;
        faulted.push(userId);
        // Fixed only once the break is on record, so every fault must page.
        await until(`${userId}'s break`, async () => (await breakRows(pool)).some((r) => r.user_id === userId), 90_000, 200);
        await sleep(between(500, 3_000));
        await sim!.fix(handle.faultId);
      }
    })();
    while (kills < killsMin) {
      await sleep(between(800, 3_500));
      await engine.kill('SIGKILL');
      kills++;
      engine.start();
      await engineAnswers(nc, names);
    }
    killing = false;
    await faultLoop;

    // Quiet: every fault's break resolved, every effect carried out.
    await until('every break resolved and every effect done', async () => {
      const rows = await breakRows(pool);
      const pending = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recon_outbox WHERE done_at IS NULL')).rows[0]!.n;
      return rows.length >= faulted.length && rows.every((r) => r.resolved) && pending === 0;
    }, 60_000, 500);
    await sleep(2_000);
    const rows = await breakRows(pool);
    const summary = {
      kills, faults: faulted.length, breaks: rows.length,
      balanceBreaks: rows.filter((r) => r.kind === 'balance').length,
      otherBreaks: rows.filter((r) => r.kind !== 'balance').map((r) => r.kind),
      freezes: (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM account_state_transitions WHERE command_id LIKE 'freeze:%'")).rows[0]!.n,
      parked: (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM parked_commands')).rows[0]!.n,
      fenced: engine.events('recon.fenced').length,
    };
    console.log(JSON.stringify({ event: 'kill_loop', ...summary }));

    expect(kills).toBeGreaterThanOrEqual(killsMin);
    expect(faulted.length).toBeGreaterThanOrEqual(5);
    // No false break: one balance break per fault, on the faulted (user, USDT), nothing else.
    expect(rows.filter((r) => r.kind === 'balance').map((r) => `${r.user_id}/${r.currency}`).sort()).toEqual(faulted.map((u) => `${u}/USDT`).sort());
    expect(summary.otherBreaks).toEqual([]);
    // Every freeze exactly once, and only for a break.
    for (const row of rows) {
      const freezes = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM account_state_transitions WHERE command_id = $1', [`freeze:${row.id}`]);
      expect(freezes.rows[0]!.n).toBe(1);
      expect((await admin('account.get', { userId: row.user_id })).state).toBe('suspended');
    }
    expect(summary.freezes).toBe(rows.length);
    expect(await disagreements(pool, js, names)).toEqual([]);
  }, 240_000);
});

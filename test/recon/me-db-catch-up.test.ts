import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExchangeSimulator, type ExchangeSimulator } from '../../src/adapters/exchange-simulator/index.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { ensureAccountTopology } from '../../src/nats/topology.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { defaultMeDbLimits, MeDbReconciler } from '../../src/recon/me-db/reconciler.js';
import { createTestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';

let nc: NatsConnection;
let pool: Pool;
let names: NatsNames;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let sim: ExchangeSimulator;
let sub: Subscription;
const alerts: BreakAlert[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  pool = createPool(database.url, 6);
  await ensureAccountTopology(nc, names);
  sub = nc.subscribe(names.reconAlertSubject('me_db'), { callback: (_e, msg) => void alerts.push(msg.json<BreakAlert>()) });
});

afterAll(async () => {
  sub?.unsubscribe();
  await sim?.stop();
  await deleteNamespaceStreams(nc, names);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

describe('me_db catching up on a backlog', () => {
  it('raises no alert while it works through a backlog of both sides, then agrees everywhere', { timeout: 120_000 }, async () => {
    // A backlog the reconciler has never seen: the exchange ran while it was down.
    sim = await startExchangeSimulator({ nc, pool, names, seed: 5, rateEventsPerSec: 3_000, users: 300, currencies: ['BTC', 'ETH', 'USDT'], log: silentLogger() });
    await new Promise((r) => setTimeout(r, 15_000));
    await sim.pause();
    const lastSeq = sim.lastSeq();

    // The default grace window: the two sides are read at very different speeds while catching
    // up, far more than 5 s apart in arrival time; only their own clocks say what is lag.
    const reconciler = new MeDbReconciler({
      nc, js: jetstream(nc), jsm: await jetstreamManager(nc), pool, names, log: silentLogger(),
      limits: { ...defaultMeDbLimits, graceMs: 5_000, snapshotTimeoutMs: 1 },
    });
    // No snapshot: the reconciler reads the whole stream, the backlog.
    await sim.stop();
    await reconciler.start();
    const deadline = Date.now() + 90_000;
    while (reconciler.status().watermarks?.engineSeq !== lastSeq && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 1_500));
    const status = reconciler.status();
    await reconciler.stop();
    console.info(`catch-up: ${lastSeq} engine events, ${status.counters?.ledgerRowsRead} ledger rows`);

    expect(status.watermarks?.engineSeq).toBe(lastSeq);
    expect(alerts).toEqual([]);
    expect(status.openBreaks).toBe(0);
  });
});

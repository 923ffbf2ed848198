import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balanceEventWireOf } from '../../src/adapters/matching-engine/contract.js';
import { minorToDecimal } from '../../src/config/decimal.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { ensureAccountTopology } from '../../src/nats/topology.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { defaultMeDbLimits, MeDbReconciler } from '../../src/recon/me-db/reconciler.js';
import { createTestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';

/**
 * After an incident, backfilled or replayed activity (engine events with a past `ts`, ledger
 * rows with a past `created_at`) arrives in a burst next to live activity for the same
 * accounts. Each side's own clock then goes backwards; a lag must still be judged as a lag.
 */
// Short, but well over the ledger's intended lag (20–300 ms): a loaded machine (2 shared cores) stretches the lag.
const graceMs = 1_000;
const currency = 'USDT';
const dayMs = 86_400_000;
const users = Array.from({ length: 10 }, (_, i) => `demo${String(i + 1).padStart(4, '0')}`);

let nc: NatsConnection;
let js: JetStreamClient;
let pool: Pool;
let names: NatsNames;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let reconciler: MeDbReconciler;
let sub: Subscription;
const alerts: BreakAlert[] = [];

let seq = 0;
let journalNo = 0;
const engineTotals = new Map<string, bigint>();
let rng = 0x2545f491;
const random = (): number => {
  rng = (Math.imul(rng, 1_103_515_245) + 12_345) >>> 0;
  return rng / 2 ** 32;
};
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;

/** The engine's side of one change: the absolute balance after it, published in seq order. */
function engineChange(userId: string, deltaMinor: bigint, tsMs: number): Promise<unknown> {
  seq += 1;
  const totalMinor = (engineTotals.get(userId) ?? 0n) + deltaMinor;
  engineTotals.set(userId, totalMinor);
  const event = { seq, userId, currency, totalMinor, lockedMinor: 0n, availableMinor: totalMinor, tsMs };
  return js.publish(names.meBalanceSubject(userId), JSON.stringify(balanceEventWireOf(event)), { msgID: String(seq) });
}

/** The ledger's side of the same change: a balanced journal dated `createdAtMs`. */
async function ledgerJournal(userId: string, deltaMinor: bigint, createdAtMs: number): Promise<void> {
  journalNo += 1;
  const journalId = `j${journalNo}`;
  const amount = minorToDecimal(deltaMinor, 18);
  const house = minorToDecimal(-deltaMinor, 18);
  await pool.query(
    `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
     VALUES ($1, $2, $3, $4::numeric, 'deposit', $1, $6), ($1, 'house:custody', $3, $5::numeric, 'deposit', $1, $6)`,
    [journalId, userId, currency, amount, house, new Date(createdAtMs)],
  );
}

/** Per account, the ledger books journals in the engine's order (a ledger service serialises an account). */
const ledgerTail = new Map<string, Promise<void>>();
let ledgerLagMaxMs = 0;

/** One agreeing change on both sides, the ledger a little behind the engine (20–300 ms). */
function change(userId: string, tsMs: number): Promise<void> {
  const deltaMinor = BigInt(1 + Math.floor(random() * 1_000)) * 10n ** 16n;
  const lagMs = 20 + Math.floor(random() * 280);
  const published = engineChange(userId, deltaMinor, tsMs);
  const lagged = new Promise((r) => setTimeout(r, lagMs));
  // Waits for the lag and for the account's previous journal: the lag does not pile up.
  const sentMs = Date.now();
  const booked = Promise.all([ledgerTail.get(userId), lagged]).then(() => ledgerJournal(userId, deltaMinor, tsMs)).then(() => {
    ledgerLagMaxMs = Math.max(ledgerLagMaxMs, Date.now() - sentMs);
  });
  ledgerTail.set(userId, booked);
  return Promise.all([published, booked]).then(() => undefined);
}

beforeAll(async () => {
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  js = jetstream(nc);
  pool = createPool(database.url, 8);
  await ensureAccountTopology(nc, names);
  sub = nc.subscribe(names.reconAlertSubject('me_db'), { callback: (_e, msg) => void alerts.push(msg.json<BreakAlert>()) });
  reconciler = new MeDbReconciler({
    nc, js, jsm: await jetstreamManager(nc), pool, names, log: silentLogger(),
    limits: { ...defaultMeDbLimits, graceMs, snapshotTimeoutMs: 1 },
  });
  await reconciler.start();
});

afterAll(async () => {
  sub?.unsubscribe();
  await reconciler?.stop();
  await deleteNamespaceStreams(nc, names);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

describe('me_db with a backdated burst next to live activity', () => {
  it('raises no break when a past day is replayed in one burst for accounts that are live', { timeout: 60_000 }, async () => {
    const pending: Promise<void>[] = [];
    const liveUntilMs = Date.now() + 4_000;
    // Live: one change every ~25 ms, dated now.
    const live = (async () => {
      while (Date.now() < liveUntilMs) {
        pending.push(change(pick(users), Date.now()));
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    // The replay of yesterday: 600 changes in about 2 s, dated through yesterday, same accounts.
    const yesterdayMs = Date.now() - dayMs;
    const replay = (async () => {
      await new Promise((r) => setTimeout(r, 500));
      for (let i = 0; i < 600; i++) {
        pending.push(change(pick(users), yesterdayMs + i * 60_000));
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 30));
      }
    })();
    await Promise.all([live, replay]);
    await Promise.all(pending);
    await until('the reconciler has applied every engine event', () => reconciler.status().watermarks?.engineSeq === seq);
    await new Promise((r) => setTimeout(r, 2 * graceMs + 1_000));

    console.info(`backdated burst: ${seq} engine events, ledger at most ${ledgerLagMaxMs} ms behind`);
    // The test's own premise: the ledger stayed well inside the grace window.
    expect(ledgerLagMaxMs).toBeLessThan(graceMs);
    expect(alerts.map((a) => `${a.userId}/${a.currency}: ${a.left} vs ${a.right}`)).toEqual([]);
    expect(reconciler.status().openBreaks).toBe(0);
  });

  it('still pages a real break (an engine balance with no ledger entry) within grace + 1 s, dated now or in the past', { timeout: 30_000 }, async () => {
    for (const [userId, tsMs] of [['real0001', Date.now()], ['real0002', Date.now() - dayMs]] as const) {
      const sentMs = Date.now();
      await engineChange(userId, 5n * 10n ** 18n, tsMs);
      const alert = await until(`a break for ${userId}`, () => alerts.find((a) => a.userId === userId), 10_000, 20);
      const tookMs = Date.now() - sentMs;
      expect(alert).toMatchObject({ boundary: 'me_db', kind: 'balance', currency, left: '5' });
      // Dated now, or (backdated: its ts is older than the engine side was judged complete) from when it arrived.
      expect(tookMs).toBeGreaterThanOrEqual(graceMs);
      expect(tookMs).toBeLessThan(graceMs + 1_000);
    }
  });
});

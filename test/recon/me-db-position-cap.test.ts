import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decimalToMinor } from '../../src/config/decimal.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { ensureAccountTopology } from '../../src/nats/topology.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { CutDigest } from '../../src/recon/cut-digest.js';
import { defaultMeDbLimits, MeDbReconciler } from '../../src/recon/me-db/reconciler.js';
import { leafValue } from '../../src/recon/me-db/seal-record.js';
import { createTestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';

/**
 * The position cap (RECON_ME_DB_POSITIONS_MAX, ADR 0026) with far more keys than the cap:
 * positions are evicted and loaded back, and the reconciliation is the same as with every
 * position held: exact totals, no false break, the same seal digest, a break on an evicted
 * key still found, and an over-cap book paged once, never dropped.
 */

const cap = 4;
const graceMs = 2_000;
const users = Array.from({ length: 30 }, (_, i) => `cap${String(i).padStart(2, '0')}`);
const currencies = ['BTC', 'ETH'];

let nc: NatsConnection;
let pool: Pool;
let names: NatsNames;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
const subs: Subscription[] = [];
const alerts: BreakAlert[] = [];
const resolved: BreakAlert[] = [];
let seq = 0;
let journal = 0;
/** What both sides should hold, per `user/currency`, in minor units. */
const expected = new Map<string, { engine: bigint; ledger: bigint }>();

async function engineBalance(userId: string, currency: string, total: string): Promise<void> {
  seq += 1;
  const event = { seq, userId, currency, total, locked: '0', available: total, ts: new Date().toISOString() };
  await jetstream(nc).publish(names.meBalanceSubject(userId), JSON.stringify(event));
  const key = `${userId}/${currency}`;
  expected.set(key, { ledger: expected.get(key)?.ledger ?? 0n, engine: decimalToMinor(total, 18) });
}

async function deposit(userId: string, currency: string, amount: string): Promise<void> {
  journal += 1;
  await pool.query(
    `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
     VALUES ($1, $2, $3, $4, 'deposit', $1), ($1, 'house:custody', $3, -$4::numeric, 'deposit', $1)`,
    [`jcap-${journal}`, userId, currency, amount],
  );
  const key = `${userId}/${currency}`;
  expected.set(key, { engine: expected.get(key)?.engine ?? 0n, ledger: (expected.get(key)?.ledger ?? 0n) + decimalToMinor(amount, 18) });
}

/** Both sides move by `amount` for every key: engine to the new total, ledger by the delta. */
async function round(amount: string): Promise<void> {
  for (const userId of users) {
    for (const currency of currencies) {
      await deposit(userId, currency, amount);
      const total = (expected.get(`${userId}/${currency}`)?.ledger ?? 0n);
      await engineBalance(userId, currency, minorText(total));
    }
  }
}

const minorText = (minor: bigint): string => {
  const s = minor.toString().padStart(19, '0');
  return `${s.slice(0, -18)}.${s.slice(-18)}`;
};

/** The digest every position held in memory would give: the sum of each key's leaf hash. */
function expectedDigest(): string {
  const digest = new CutDigest();
  for (const [key, v] of expected) digest.replace(key, null, leafValue(v.engine, v.ledger));
  return digest.hex();
}

async function startReconciler(positionsInMemoryMax: number, liveBreaksHeldMax?: number): Promise<MeDbReconciler> {
  const reconciler = new MeDbReconciler({
    nc, js: jetstream(nc), jsm: await jetstreamManager(nc), pool, names, log: silentLogger(),
    limits: { ...defaultMeDbLimits, graceMs, snapshotTimeoutMs: 1, positionsInMemoryMax, ...(liveBreaksHeldMax === undefined ? {} : { liveBreaksHeldMax }) },
  });
  await reconciler.start();
  return reconciler;
}

const caughtUp = (r: MeDbReconciler) => until('caught up', async () => {
  const ledgerRows = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger_entries')).rows[0]?.n ?? 0;
  const s = r.status();
  return s.watermarks?.engineSeq === seq && s.counters?.ledgerRowsReadSinceStart === ledgerRows - rowsBeforeStart;
}, 30_000);
let rowsBeforeStart = 0;

beforeAll(async () => {
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  pool = createPool(database.url, 6);
  await ensureAccountTopology(nc, names);
  for (const [subject, into] of [[names.reconAlertSubject('me_db'), alerts], [names.reconResolvedSubject('me_db'), resolved]] as const) {
    subs.push(nc.subscribe(subject, { callback: (_e, msg) => void into.push(msg.json<BreakAlert>()) }));
  }
  await nc.flush();
});

afterAll(async () => {
  for (const s of subs) s.unsubscribe();
  await deleteNamespaceStreams(nc, names);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

describe('me_db with a position cap far below the keys', () => {
  it('evicts and reloads: exact totals, no false break, the same seal digest; a break on an evicted key is found; over the cap pages once', { timeout: 120_000 }, async () => {
    let reconciler = await startReconciler(cap);
    await round('1');
    await round('0.5');
    await caughtUp(reconciler);
    // Past the grace window, then one batch of one key: the book evicts down to the cap.
    await new Promise((r) => setTimeout(r, graceMs * 3));
    await deposit(users[0]!, 'BTC', '0.25');
    await engineBalance(users[0]!, 'BTC', minorText(expected.get(`${users[0]}/BTC`)!.ledger));
    await caughtUp(reconciler);
    await new Promise((r) => setTimeout(r, graceMs * 3));
    await deposit(users[1]!, 'BTC', '0.25');
    await engineBalance(users[1]!, 'BTC', minorText(expected.get(`${users[1]}/BTC`)!.ledger));
    await caughtUp(reconciler);
    const status = reconciler.status();
    expect(status.counters?.positionsKnown).toBe(users.length * currencies.length);
    expect(status.counters?.positionsInMemory).toBeLessThanOrEqual(cap + 2);
    expect(alerts).toEqual([]);

    // Every saved position exact.
    await new Promise((r) => setTimeout(r, 1_500));
    const saved = await pool.query<{ user_id: string; currency: string; engine_total: string; ledger_total: string }>(
      'SELECT user_id, currency, engine_total::text, ledger_total::text FROM recon_me_db_positions');
    expect(saved.rows).toHaveLength(expected.size);
    for (const row of saved.rows) {
      const want = expected.get(`${row.user_id}/${row.currency}`);
      expect({ key: `${row.user_id}/${row.currency}`, engine: decimalToMinor(row.engine_total, 18), ledger: decimalToMinor(row.ledger_total, 18) })
        .toEqual({ key: `${row.user_id}/${row.currency}`, engine: want?.engine, ledger: want?.ledger });
    }

    // The seal: the digest of every position, as if all were held.
    const seal = await reconciler.seal('2026-01-01');
    expect(seal.cut.positions).toBe(expected.size);
    expect(seal.digest).toBe(expectedDigest());
    expect(seal.openBreaks).toEqual([]);

    // A break on a key long evicted (the ledger books what the engine never shows).
    const victim = users[20]!;
    await deposit(victim, 'ETH', '3');
    const alert = await until('the alert on an evicted key', () => alerts.find((a) => a.userId === victim));
    expect(alert).toMatchObject({ kind: 'balance', currency: 'ETH', delta: '-3' });
    // The engine catches up: resolved.
    await engineBalance(victim, 'ETH', minorText(expected.get(`${victim}/ETH`)!.ledger));
    await until('resolved', () => resolved.find((r) => r.breakId === alert.breakId));

    // Over the cap with nothing evictable: more keys differ than the cap holds. Paged once, kept.
    const differing = users.slice(2, 2 + cap * 3);
    for (const userId of differing) await engineBalance(userId, 'BTC', '999');
    await until('the balance breaks', () => differing.every((u) => alerts.some((a) => a.userId === u && a.kind === 'balance')));
    await engineBalance(users[0]!, 'ETH', minorText(expected.get(`${users[0]}/ETH`)!.ledger));
    const capAlert = await until('the position-cap alert', () => alerts.find((a) => a.kind === 'reconciler_error' && a.detail?.includes('RECON_ME_DB_POSITIONS_MAX')));
    expect(reconciler.status().counters?.positionsInMemory).toBeGreaterThan(cap);
    // The engine is right again: the breaks resolve, the book shrinks, the cap alert resolves.
    for (const userId of differing) await engineBalance(userId, 'BTC', minorText(expected.get(`${userId}/BTC`)!.ledger));
    await until('the breaks resolved', () => differing.every((u) => resolved.some((r) => r.userId === u)));
    await new Promise((r) => setTimeout(r, 1_500));
    await engineBalance(users[1]!, 'ETH', minorText(expected.get(`${users[1]}/ETH`)!.ledger));
    await until('the cap alert resolved', () => resolved.find((r) => r.breakId === capAlert.breakId));
    expect(alerts.filter((a) => a.kind === 'reconciler_error')).toHaveLength(1);
    await caughtUp(reconciler);
    await new Promise((r) => setTimeout(r, 1_500));
    const sealAfter = await reconciler.seal('2026-01-02');
    expect(sealAfter.digest).toBe(expectedDigest());
    await reconciler.stop();

    // A restart holds at most the cap, and seals the same digest.
    rowsBeforeStart = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger_entries')).rows[0]?.n ?? 0;
    reconciler = await startReconciler(cap);
    expect(reconciler.status().counters).toMatchObject({ positionsKnown: expected.size, positionsInMemory: cap });
    const sealRestarted = await reconciler.seal('2026-01-03');
    expect(sealRestarted.digest).toBe(expectedDigest());
    expect(sealRestarted.cut.positions).toBe(expected.size);
    await reconciler.stop();
    expect(alerts.filter((a) => a.kind === 'balance').map((a) => a.userId).sort()).toEqual([victim, ...differing].sort());
  });

  it('in a break storm, the unheld breaks are recorded, their positions evicted, and all resolve when the sides agree', { timeout: 120_000 }, async () => {
    const heldMax = 2;
    rowsBeforeStart = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger_entries')).rows[0]?.n ?? 0;
    const reconciler = await startReconciler(cap, heldMax);
    const before = alerts.length;
    const storming = users.slice(10, 22);
    for (const userId of storming) await engineBalance(userId, 'ETH', '777');
    await until('every storming key recorded as a break', async () =>
      (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM recon_breaks WHERE kind = 'balance' AND resolved_at IS NULL")).rows[0]?.n === storming.length);
    await until('the storm page', () => alerts.slice(before).find((a) => a.kind === 'break_storm'));
    await new Promise((r) => setTimeout(r, graceMs));
    // Two paged, the rest recorded only; the storm paged once.
    expect(alerts.slice(before).filter((a) => a.kind === 'balance')).toHaveLength(heldMax);
    expect(alerts.slice(before).filter((a) => a.kind === 'break_storm')).toHaveLength(1);
    expect(reconciler.status().openBreaks).toBe(storming.length + 1);
    // The next batch evicts the unheld, differing positions: the book holds the cap, the held breaks and one batch.
    await deposit(users[2]!, 'BTC', '0.5');
    await engineBalance(users[2]!, 'BTC', minorText(expected.get(`${users[2]}/BTC`)!.ledger));
    await caughtUp(reconciler);
    await deposit(users[3]!, 'BTC', '0.5');
    await engineBalance(users[3]!, 'BTC', minorText(expected.get(`${users[3]}/BTC`)!.ledger));
    await caughtUp(reconciler);
    expect(reconciler.status().counters?.positionsInMemory).toBeLessThanOrEqual(cap + heldMax + 2);
    // The engine is right again: every break resolves (the unheld in Postgres only), then the storm.
    for (const userId of storming) await engineBalance(userId, 'ETH', minorText(expected.get(`${userId}/ETH`)!.ledger));
    await until('every storming break resolved', async () =>
      (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM recon_breaks WHERE kind = 'balance' AND resolved_at IS NULL")).rows[0]?.n === 0);
    await until('the storm resolved', () => resolved.find((r) => r.kind === 'break_storm'));
    await caughtUp(reconciler);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await reconciler.seal('2026-01-04')).digest).toBe(expectedDigest());
    expect(reconciler.status().openBreaks).toBe(0);
    await reconciler.stop();
  });
});

import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { ensureReconStream } from '../../src/nats/topology.js';
import { BreakRegistry } from '../../src/recon/breaks/break-registry.js';
import type { BreakAlert, LiveBreak } from '../../src/recon/breaks/break.js';
import { durableWrites } from '../../src/recon/durable-writes.js';
import { createTestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';

/**
 * The live-break cap (reconLimits.liveBreaksHeldMax, ADR 0026): past it a storm pages once
 * (break_storm), every further break is recorded in recon_breaks but not held, paged or acted
 * on, and resolves there when its key agrees again.
 */

const heldMax = 3;
const boundary = 'me_db';

let nc: NatsConnection;
let pool: Pool;
let names: NatsNames;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
const subs: Subscription[] = [];
const alerts: BreakAlert[] = [];
const resolved: BreakAlert[] = [];
const actedOn: string[] = [];

function registry(): BreakRegistry {
  return new BreakRegistry({
    boundary, pool, js: jetstream(nc), names, log: silentLogger(), writes: durableWrites(pool, null), liveBreaksHeldMax: heldMax,
    effectsOnRaised: (live: LiveBreak) => {
      if (live.kind === 'balance') actedOn.push(live.key);
      return [];
    },
    onWriteFailed: (error) => {
      throw error;
    },
  });
}

const balance = (userId: string) => ({ kind: 'balance', key: `${userId}/BTC`, userId, currency: 'BTC', leftMinor: 2n, rightMinor: 1n });
const openRows = async (): Promise<number> =>
  (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM recon_breaks WHERE boundary = $1 AND kind = 'balance' AND resolved_at IS NULL`, [boundary])).rows[0]?.n ?? -1;

beforeAll(async () => {
  database = await createTestDatabase();
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  pool = createPool(database.url, 4);
  await ensureReconStream(await jetstreamManager(nc), names);
  for (const [subject, into] of [[names.reconAlertSubject(boundary), alerts], [names.reconResolvedSubject(boundary), resolved]] as const) {
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

describe('a break storm', () => {
  it('holds, pages and acts on the first breaks up to the cap; records the rest; pages the storm once; resolves them in Postgres', { timeout: 60_000 }, async () => {
    let breaks = registry();
    await breaks.load();
    breaks.startEffects();
    const users = Array.from({ length: 10 }, (_, i) => `st${i}`);
    for (const u of users) await breaks.raise(balance(u), Date.now());
    // Raised again every tick while they last: still one row each.
    for (const u of users) await breaks.raise(balance(u), Date.now());

    expect(await openRows()).toBe(users.length);
    expect(breaks.list().filter((b) => b.kind === 'balance')).toHaveLength(heldMax);
    expect(breaks.openCount).toBe(users.length + 1);
    expect(actedOn).toEqual(users.slice(0, heldMax).map((u) => `${u}/BTC`));
    await until('the pages', () => alerts.length >= heldMax + 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(alerts.filter((a) => a.kind === 'balance').map((a) => a.userId)).toEqual(users.slice(0, heldMax));
    const storm = alerts.filter((a) => a.kind === 'break_storm');
    expect(storm).toHaveLength(1);
    expect(storm[0]?.detail).toContain('liveBreaksHeldMax');
    const raisedEvents = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM recon_break_events WHERE event = 'raised'`);
    expect(raisedEvents.rows[0]?.n).toBe(users.length + 1);

    // A restart holds the cap again and counts the rest.
    await breaks.stopEffects();
    breaks = registry();
    await breaks.load();
    breaks.startEffects();
    expect(breaks.list().filter((b) => b.kind === 'balance')).toHaveLength(heldMax);
    expect(breaks.unheldCount).toBe(users.length - heldMax);

    // Every key agrees again: the held ones resolve with a page, the unheld in Postgres only; then the storm.
    for (const u of users) await breaks.resolve('balance', `${u}/BTC`, { leftMinor: 1n, rightMinor: 1n });
    expect(await openRows()).toBe(0);
    expect(breaks.unheldCount).toBe(0);
    await until('the storm resolved', () => resolved.find((r) => r.kind === 'break_storm'));
    await new Promise((r) => setTimeout(r, 500));
    expect(resolved.filter((r) => r.kind === 'balance').map((r) => r.userId).sort()).toEqual(users.slice(0, heldMax));
    const unheldResolved = await pool.query<{ status: string; right_amount: string }>(
      `SELECT status, right_amount::text FROM recon_breaks WHERE boundary = $1 AND kind = 'balance' AND user_id = ANY($2::text[])`, [boundary, users.slice(heldMax)]);
    expect(unheldResolved.rows).toHaveLength(users.length - heldMax);
    expect(unheldResolved.rows.every((r) => r.status === 'resolved' && Number(r.right_amount) === 1e-18)).toBe(true);
    expect(breaks.openCount).toBe(0);
    await breaks.stopEffects();
  });
});

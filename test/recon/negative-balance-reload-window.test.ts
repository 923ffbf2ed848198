import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminError } from '../../src/admin/errors.js';
import { reconHandlers } from '../../src/admin/recon-handlers.js';
import { syncFailureBreaks } from '../../src/eod/failure-breaks.js';
import type { CutBreak } from '../../src/eod/steps/step.js';
import { ensureAccountTopology } from '../../src/nats/topology.js';
import { breakKinds } from '../../src/recon/breaks/break-kinds.js';
import { defaultMeDbLimits, MeDbReconciler } from '../../src/recon/me-db/reconciler.js';
import { withFencedTransaction } from '../../src/supervisor/fence.js';
import { EodHarness } from '../support/eod-harness.js';
import { silentLogger } from '../support/log.js';

/**
 * ADR 0029, "The window before the reconciler re-loads": the close changes a negative_balance
 * row (a re-run refreshes its amounts, a later run resolves it) and the me_db reconciler still
 * holds the copy it loaded before. Its checkpoint must not write that copy's amounts back, and an
 * operator's accept / acknowledge must not land on a row the close has resolved. The window is
 * driven by hand: the close's own writer in its fenced transaction, and no adoptRecordedBreaks.
 */

const date = '2026-11-03';
const owner = { boundary: 'me_db', kinds: [breakKinds.negativeBalance] };
const harness = new EodHarness({ lease: 'eod-reload-window', token: 1, holder: 'test' });
let reconciler: MeDbReconciler | null = null;

const negative = (userId: string, ledgerTotal: string): CutBreak => ({
  boundary: 'me_db', kind: breakKinds.negativeBalance, userId, currency: 'BTC', left: '0', right: ledgerTotal, delta: ledgerTotal.replace('-', ''),
  detail: `ledger side negative: ${ledgerTotal}`,
});

/** One attempt of balance_snapshot as the close records it: the date's negative balances are exactly `found`. */
const closeAttempt = (found: CutBreak[]) =>
  withFencedTransaction(harness.pool, harness.fence, (client) => syncFailureBreaks(client, harness.names, harness.fence.token, date, owner, found, Date.now()));

const rowOf = async (userId: string) =>
  (await harness.pool.query<{ id: string; status: string; resolved_at: Date | null; left_amount: string; right_amount: string; delta: string }>(
    `SELECT id, status, resolved_at, left_amount::text, right_amount::text, delta::text FROM recon_breaks WHERE kind = 'negative_balance' AND break_key = $1`,
    [`${date}/${userId}/BTC`])).rows;

const eventsOf = async (breakId: string) =>
  (await harness.pool.query<{ event: string }>('SELECT event FROM recon_break_events WHERE break_id = $1 ORDER BY id', [breakId])).rows.map((r) => r.event);

const actionsOf = async (breakId: string) =>
  Number((await harness.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM recon_break_actions WHERE break_id = $1', [breakId])).rows[0]?.n);

beforeAll(async () => {
  const { nc, pool } = await harness.open();
  await ensureAccountTopology(nc, harness.names);
  // Recorded before the reconciler starts: it loads them, as a leader that has been running does.
  await closeAttempt([negative('rw-a', '-2'), negative('rw-b', '-3'), negative('rw-c', '-4')]);
  reconciler = new MeDbReconciler({
    nc, js: jetstream(nc), jsm: await jetstreamManager(nc), pool, names: harness.names, log: silentLogger(),
    // No engine answers here; ticks (and the checkpoints they make) only when the test asks.
    limits: { ...defaultMeDbLimits, graceMs: 1_000, coldSeed: false, snapshotTimeoutMs: 200, tickMs: 3_600_000, checkpointMs: 3_600_000 },
  });
  await reconciler.start();
}, 60_000);

afterAll(async () => {
  await reconciler?.stop();
  await harness.close();
});

describe('the close changes a negative_balance row before the me_db reconciler re-loads it', () => {
  it('the reconciler holds the close\'s breaks as loaded', () => {
    const held = reconciler?.liveBreaks().filter((b) => b.kind === breakKinds.negativeBalance).map((b) => `${b.userId}:${b.right}`).sort();
    expect(held).toEqual(['rw-a:-2', 'rw-b:-3', 'rw-c:-4']);
  });

  it('a checkpoint keeps the amounts a re-run of the close refreshed (it never writes the kinds it does not judge)', async () => {
    const r = reconciler as MeDbReconciler;
    await closeAttempt([negative('rw-a', '-7'), negative('rw-b', '-3'), negative('rw-c', '-4')]);
    // seal() runs the reconciler's checkpoint between two messages (another date: the close's date is not sealed here).
    await r.seal('2026-11-01');
    expect(await rowOf('rw-a')).toMatchObject([{ status: 'open', resolved_at: null, left_amount: '0.000000000000000000', right_amount: '-7.000000000000000000', delta: '7.000000000000000000' }]);
  });

  it('an accept of a break the close resolved meanwhile leaves it resolved, records nothing, and answers that it is resolved', async () => {
    const r = reconciler as MeDbReconciler;
    const [before] = await rowOf('rw-b');
    if (!before) throw new Error('no row for rw-b');
    // A later attempt no longer finds rw-b (nor rw-c): the close resolves them; the reconciler has not re-loaded.
    await closeAttempt([negative('rw-a', '-7')]);
    expect(r.liveBreaks().some((b) => b.id === before.id), 'the stale copy is still held (the window)').toBe(true);

    const outcome = await r.act(before.id, 'accept', 'ops-1', 'known, tolerated');
    const [after] = await rowOf('rw-b');
    expect(after?.status).toBe('resolved');
    expect(after?.resolved_at).not.toBeNull();
    expect(await eventsOf(before.id)).toEqual(['raised', 'resolved']);
    expect(await actionsOf(before.id)).toBe(0);
    expect(outcome).toMatchObject({ outcome: 'not_live', breakId: before.id, status: 'resolved' });
    // The stale copy is dropped: no longer listed as live.
    expect(r.liveBreaks().some((b) => b.id === before.id)).toBe(false);
  });

  it('through admin.recon.break.acknowledge the answer is NOT_FOUND saying the break resolved, and nothing is recorded', async () => {
    const r = reconciler as MeDbReconciler;
    const [row] = await rowOf('rw-c');
    if (!row) throw new Error('no row for rw-c');
    expect(r.liveBreaks().some((b) => b.id === row.id), 'the stale copy is still held (the window)').toBe(true);
    const admin = reconHandlers(new Map([['me_db', r]]), () => []);
    const answer = await admin.acknowledge({ boundary: 'me_db', breakId: row.id, actorId: 'ops-1' }).then(() => null, (error: unknown) => error);
    expect(await rowOf('rw-c')).toMatchObject([{ status: 'resolved' }]);
    expect(await eventsOf(row.id)).toEqual(['raised', 'resolved']);
    expect(await actionsOf(row.id)).toBe(0);
    expect(answer).toBeInstanceOf(AdminError);
    expect((answer as AdminError).code).toBe('NOT_FOUND');
    expect((answer as AdminError).message).toMatch(/resolved/);
  });

  it('an accept of a break still live records the amounts its row holds now, not the stale copy\'s', async () => {
    const r = reconciler as MeDbReconciler;
    const [row] = await rowOf('rw-a');
    if (!row) throw new Error('no row for rw-a');
    await closeAttempt([negative('rw-a', '-9')]);
    const outcome = await r.act(row.id, 'accept', 'ops-1', 'known, tolerated');
    expect(outcome).toMatchObject({ outcome: 'acted', live: { id: row.id, status: 'accepted', right: '-9', delta: '9' } });
    expect(await rowOf('rw-a')).toMatchObject([{ status: 'accepted', resolved_at: null, right_amount: '-9.000000000000000000' }]);
    const events = await harness.pool.query<{ event: string; right_amount: string }>(
      'SELECT event, right_amount::text FROM recon_break_events WHERE break_id = $1 ORDER BY id', [row.id]);
    expect(events.rows.at(-1)).toEqual({ event: 'accepted', right_amount: '-9.000000000000000000' });
    // And the next checkpoint still leaves the close's amounts alone.
    await r.seal('2026-11-02');
    expect(await rowOf('rw-a')).toMatchObject([{ status: 'accepted', right_amount: '-9.000000000000000000' }]);
  });
});

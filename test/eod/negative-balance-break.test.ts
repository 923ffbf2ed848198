import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Subscription } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { businessWindow } from '../../src/eod/business-date.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { until } from '../support/until.js';
import { depositsDuring, ExchangeFixture } from './exchange-fixture.js';

/**
 * DESIGN §7 / docs/contract.md §10: "a negative user balance is a break that fails the
 * balance_snapshot step, never a leaf" — on a whole engine: the step fails naming the user, a
 * `negative_balance` break of me_db is paged once on `recon.alert.me_db`, listed by
 * `admin.recon.breaks` and counted in `recon_breaks_open`; a re-run of the date neither
 * records a second break nor pages again (ADR 0029).
 */

const date = '2026-10-05';
const window = businessWindow(date, { time: '00:00', zone: 'UTC' });
const users = ['nb-a', 'nb-b', 'nb-c'];

let t: TestEngine;
let dir: string;
let alerts: Subscription;
let resolutions: Subscription;
const received: BreakAlert[] = [];
const resolved: BreakAlert[] = [];

type RunAnswer = { date: string; status: string; steps: Array<{ name: string; status: string; attempts: number; error?: string }> };
type ListedBreak = { breakId: string; boundary: string; kind: string; key: string; userId: string | null; currency: string | null; left: string | null; right: string | null; delta: string | null; status: string };

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'recon-negbal-'));
  t = await startTestEngine({ EOD_SCHEDULER: 'off', EOD_REPORTS_DIR: path.join(dir, 'reports'), RECON_GRACE_MS: '200' });
  alerts = t.client.subscribe(t.names.reconAlertSubject('me_db'), {
    callback: (_error, msg) => {
      received.push(msg.json<BreakAlert>());
    },
  });
  resolutions = t.client.subscribe(t.names.reconResolvedSubject('me_db'), {
    callback: (_error, msg) => {
      resolved.push(msg.json<BreakAlert>());
    },
  });
  const fx = new ExchangeFixture(t.pool, t.client, t.names);
  await fx.apply(depositsDuring(users, ['BTC'], window.startMs, window.endMs, 7));
  // A withdrawal the ledger posted past what the user held (engine events are never negative: the ledger side is).
  await t.pool.query(
    `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
     VALUES ('nbw1', 'nb-d', 'BTC', -2, 'withdrawal', 'nbw1', $1), ('nbw1', 'house:custody', 'BTC', 2, 'withdrawal', 'nbw1', $1)`,
    [new Date(window.startMs + 60_000).toISOString()]);
  await until('the engine history recorded', () => fx.recorded(), 30_000);
});

afterAll(async () => {
  alerts?.unsubscribe();
  resolutions?.unsubscribe();
  await t?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const negativeAlerts = (): BreakAlert[] => received.filter((a) => a.kind === 'negative_balance');
const snapshotStep = async () =>
  ((await t.admin('eod.status', { date })) as RunAnswer).steps.find((s) => s.name === 'balance_snapshot');
const listed = async (): Promise<ListedBreak[]> =>
  ((await t.admin('recon.breaks', { boundary: 'me_db' })) as { breaks: ListedBreak[] }).breaks.filter((b) => b.kind === 'negative_balance');

describe('a negative user balance at the cut', () => {
  it('fails balance_snapshot naming user, currency and amount, and is a negative_balance break paged once on recon.alert.me_db and listed', async () => {
    const state = (await t.admin('eod.run', { date })) as RunAnswer;
    expect(state.status).toBe('failed');
    expect(await snapshotStep()).toMatchObject({
      status: 'failed', error: expect.stringMatching(/user nb-d has a negative ledger balance in BTC \(-2\): never a leaf/),
    });
    const [alert] = await until('the recon.alert.me_db page', async () => (negativeAlerts().length > 0 ? negativeAlerts() : null), 10_000);
    expect(alert).toEqual(expect.objectContaining({
      breakId: expect.any(String), boundary: 'me_db', kind: 'negative_balance', userId: 'nb-d', currency: 'BTC',
      left: '0', right: '-2', delta: '2', firstSeenAt: expect.any(String),
    }));
    expect(Number.isNaN(Date.parse(alert?.firstSeenAt ?? ''))).toBe(false);

    const breaks = await listed();
    expect(breaks).toEqual([expect.objectContaining({ breakId: alert?.breakId, boundary: 'me_db', kind: 'negative_balance', key: `${date}/nb-d/BTC`, userId: 'nb-d', currency: 'BTC', left: '0', right: '-2', delta: '2', status: 'open' })]);
    const metrics = await t.engine.observability.metrics.getSingleMetricAsString('recon_breaks_open');
    expect(metrics).toMatch(/^recon_breaks_open\{boundary="me_db",kind="negative_balance"\} 1$/m);
    // Carried out by me_db's drainer: nothing of it waits in the outbox.
    await until('the alert row done', async () =>
      (await t.pool.query('SELECT 1 FROM recon_outbox WHERE msg_id = $1 AND done_at IS NOT NULL', [`alert:${alert?.breakId}`])).rowCount, 10_000);
  });

  it('a re-run of the date fails again and neither records a second break nor pages again', async () => {
    const [first] = negativeAlerts();
    expect(((await t.admin('eod.run', { date })) as RunAnswer).status).toBe('failed');
    expect(await snapshotStep()).toMatchObject({ status: 'failed', attempts: 2, error: expect.stringMatching(/nb-d .*BTC \(-2\)/) });
    // Long enough for me_db's drainer (every outboxRetryMs = 1 s) to have sent anything new.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(negativeAlerts()).toHaveLength(1);
    expect((await listed()).map((b) => b.breakId)).toEqual([first?.breakId]);
    const rows = await t.pool.query("SELECT id FROM recon_breaks WHERE kind = 'negative_balance'");
    expect(rows.rows).toEqual([{ id: first?.breakId }]);
    expect((await t.pool.query("SELECT 1 FROM recon_outbox WHERE subject = $1 AND payload->>'kind' = 'negative_balance'", [t.names.reconAlertSubject('me_db')])).rowCount).toBe(1);
  });

  it('the me_db reconciler keeps it live: it is not resolved while the cut still shows it', async () => {
    const [first] = negativeAlerts();
    // Several rounds of the reconciler (ticks, checkpoints) pass.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await t.pool.query('SELECT resolved_at FROM recon_breaks WHERE id = $1', [first?.breakId])).rows).toEqual([{ resolved_at: null }]);
    expect(received.filter((a) => a.breakId === first?.breakId)).toHaveLength(1);
    expect((await listed()).map((b) => b.breakId)).toEqual([first?.breakId]);
  });

  it('a re-run after the day is corrected no longer finds it: the break resolves, paged once on recon.resolved.me_db, and is no longer listed', async () => {
    const [first] = negativeAlerts();
    // The correction, dated inside the (unsealed) day: the user's ledger balance at the cut is 0.
    await t.pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
       VALUES ('nbc1', 'nb-d', 'BTC', 2, 'deposit', 'nbc1', $1), ('nbc1', 'house:custody', 'BTC', -2, 'deposit', 'nbc1', $1)`,
      [new Date(window.startMs + 120_000).toISOString()]);
    await t.admin('eod.run', { date });
    expect(await snapshotStep()).toMatchObject({ status: 'completed' });
    const [resolution] = await until('the recon.resolved.me_db page', async () => {
      const found = resolved.filter((r) => r.breakId === first?.breakId);
      return found.length > 0 ? found : null;
    }, 10_000);
    expect(resolution).toMatchObject({ breakId: first?.breakId, boundary: 'me_db', kind: 'negative_balance', userId: 'nb-d', currency: 'BTC', lastLeft: '0', lastRight: '-2', resolvedAt: expect.any(String) });
    expect(await listed()).toEqual([]);
    expect((await t.pool.query('SELECT status FROM recon_breaks WHERE id = $1', [first?.breakId])).rows).toEqual([{ status: 'resolved' }]);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(resolved.filter((r) => r.breakId === first?.breakId)).toHaveLength(1);
    expect(negativeAlerts()).toHaveLength(1);
  });
});

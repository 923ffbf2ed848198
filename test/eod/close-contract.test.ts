import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '../../src/db/pool.js';
import { businessWindow } from '../../src/eod/business-date.js';
import { eodStepNames } from '../../src/eod/steps/step.js';
import type { Fence } from '../../src/supervisor/fence.js';
import { EodHarness } from '../support/eod-harness.js';
import { until } from '../support/until.js';

/**
 * DESIGN §5 / docs/contract.md §9 as outside tests read them: every step of a close ends with
 * `eod.<step>.completed` or `eod.<step>.failed` (a skipped step too), and a run a lost leader
 * left unfinished (stopped before its seal, or sealed but not yet published) is finished by the
 * next leader, even with the scheduler off.
 */

const d1 = '2026-09-10';
const d2 = '2026-09-11';
const d3 = '2026-09-12';
const cutover = { time: '00:00', zone: 'UTC' };
const w1 = businessWindow(d1, cutover);
const w2 = businessWindow(d2, cutover);
const w3 = businessWindow(d3, cutover);
const fence: Fence = { lease: 'eod-contract', token: 1, holder: 'test' };
const harness = new EodHarness(fence);
const names = harness.names;
let pool: Pool;
let nc: NatsConnection;
let jsm: JetStreamManager;
let reportsDir: string;

/** What the me_db reconciler and the ledger service would have recorded: deposits in D1 and D2, and engine events past D2's cutover. */
async function seedDays(): Promise<void> {
  const at = (ms: number) => new Date(ms).toISOString();
  let seq = 0;
  const deposits = [['c1', '3', w1.startMs + 10_000], ['c2', '4', w1.startMs + 20_000], ['c1', '5', w2.startMs + 10_000], ['c2', '1', w2.endMs + 10_000]] as const;
  for (const [userId, amount, ms] of deposits) {
    await pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
       VALUES ($1, $2, 'BTC', $3, 'deposit', $1, $4), ($1, 'house:custody', 'BTC', -$3::numeric, 'deposit', $1, $4)`, [`j${seq}`, userId, amount, at(ms)]);
    const sum = await pool.query<{ s: string }>("SELECT sum(amount)::text AS s FROM ledger_entries WHERE user_id = $1 AND currency = 'BTC'", [userId]);
    await pool.query("INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts) VALUES ($1, $2, 'BTC', $3, 0, $3, $4)",
      [++seq, userId, sum.rows[0]?.s ?? '0', at(ms)]);
  }
}

/** The last `eod.<step>.<outcome>` on the EOD stream, or null. */
async function lastEvent(step: string, outcome: 'completed' | 'failed'): Promise<Record<string, unknown> | null> {
  const message = await jsm.streams.getMessage(names.eodStream, { last_by_subj: names.eodStepSubject(step, outcome) }).catch(() => null);
  return (message?.json() as Record<string, unknown> | undefined) ?? null;
}

beforeAll(async () => {
  let dir: string;
  ({ pool, nc, dir } = await harness.open());
  reportsDir = path.join(dir, 'reports');
  jsm = await jetstreamManager(nc);
  await seedDays();
});

afterAll(async () => {
  await harness.close();
});

describe('the close as the public contract states it', () => {
  it('every step publishes eod.<step>.completed or eod.<step>.failed, a skipped one with its reason', async () => {
    const eod = await harness.service();
    const state = await eod.run(d1);
    expect(state.status).toBe('sealed');
    const skipped = state.steps.filter((s) => s.status === 'skipped').map((s) => s.name);
    // Defaults: the revenue-router gate closed, no custody, no chain.
    expect(skipped).toEqual(['staking_rewards', 'recon_db_custody', 'recon_db_chain']);
    for (const step of eodStepNames) {
      const event = (await lastEvent(step, 'completed')) ?? (await lastEvent(step, 'failed'));
      expect(event, `an event for ${step}`).toMatchObject({ date: d1, step });
    }
    expect(await lastEvent('staking_rewards', 'completed')).toEqual({
      date: d1, step: 'staking_rewards', status: 'skipped', reason: 'the revenue-router gate is closed (STAKING_REWARDS_ENABLED=off)',
    });
    await eod.stop();
  });

  it('a date sealed but not yet published (its leader died in between) is published by the next leader', async () => {
    await pool.query('UPDATE eod_reports SET published_at = NULL WHERE business_date = $1', [d1]);
    await rm(reportsDir, { recursive: true, force: true });
    const eod = await harness.service();
    await until('the report of D1 published again', async () =>
      (await pool.query('SELECT 1 FROM eod_reports WHERE business_date = $1 AND published_at IS NOT NULL', [d1])).rowCount, 20_000);
    expect(existsSync(path.join(reportsDir, `${d1}.json`))).toBe(true);
    expect(existsSync(path.join(reportsDir, `${d1}.html`))).toBe(true);
    await eod.stop();
  });

  it('a run stopped after its last step and before its seal is sealed by the next leader, with the same sha256', async () => {
    const first = await harness.service();
    expect((await first.run(d2)).status).toBe('sealed');
    await first.stop();
    const sealed = await pool.query<{ sha256: string }>('SELECT sha256 FROM eod_reports WHERE business_date = $1', [d2]);
    // What a leader killed between the last step's completion and the seal leaves behind: every step done, no report.
    await pool.query('DELETE FROM eod_sealed_days WHERE business_date = $1', [d2]);
    await pool.query('DELETE FROM eod_reports WHERE business_date = $1', [d2]);
    const next = await harness.service();
    const resealed = await until('D2 sealed by the next leader', async () =>
      (await pool.query<{ sha256: string }>('SELECT sha256 FROM eod_reports WHERE business_date = $1', [d2])).rows[0], 20_000);
    expect(resealed.sha256).toBe(sealed.rows[0]?.sha256);
    expect((await next.close.state(d2)).status).toBe('sealed');
    await next.stop();
  });

  it('a negative user balance at the cut fails balance_snapshot (eod.balance_snapshot.failed), never a leaf, and nothing is sealed', async () => {
    const at = (ms: number) => new Date(ms).toISOString();
    await pool.query(`INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts)
                      VALUES (10, 'c3', 'BTC', -1, 0, -1, $1), (11, 'c1', 'BTC', 8, 0, 8, $2)`, [at(w3.startMs + 10_000), at(w3.endMs + 10_000)]);
    const eod = await harness.service();
    const state = await eod.run(d3);
    expect(state.status).toBe('failed');
    expect(state.steps.find((s) => s.name === 'balance_snapshot')).toMatchObject({ status: 'failed', error: expect.stringMatching(/user c3 has a negative balance in BTC \(-1\): never a leaf/) });
    await until('eod.balance_snapshot.failed', () => lastEvent('balance_snapshot', 'failed'), 5_000);
    expect(await lastEvent('balance_snapshot', 'failed')).toMatchObject({ date: d3, step: 'balance_snapshot', error: expect.stringMatching(/c3/) });
    expect((await pool.query('SELECT 1 FROM proof_of_reserves WHERE business_date = $1', [d3])).rowCount).toBe(0);
    expect((await pool.query('SELECT 1 FROM user_balance_snapshots WHERE business_date = $1', [d3])).rowCount).toBe(0);
    expect((await pool.query('SELECT 1 FROM eod_reports WHERE business_date = $1', [d3])).rowCount).toBe(0);
    await eod.stop();
  });

  it('the negative balance is a negative_balance break on me_db, recorded with the failure and its alert in the outbox, once however often the date is re-run', async () => {
    const breaks = async () => (await pool.query<{ id: string; status: string; user_id: string; currency: string; left: string; right: string; delta: string; key: string }>(
      `SELECT id, status, user_id, currency, left_amount::text AS left, right_amount::text AS right, delta::text AS delta, break_key AS key
         FROM recon_breaks WHERE boundary = 'me_db' AND kind = 'negative_balance'`)).rows;
    const alerts = async () => (await pool.query<{ subject: string; msg_id: string; payload: Record<string, unknown> }>(
      "SELECT subject, msg_id, payload FROM recon_outbox WHERE boundary = 'me_db' ORDER BY id")).rows;
    const recorded = await breaks();
    expect(recorded).toHaveLength(1);
    const [only] = recorded;
    expect(only).toMatchObject({ status: 'open', user_id: 'c3', currency: 'BTC', key: `${d3}/c3/BTC` });
    expect(Number(only?.left)).toBe(-1);
    expect(Number(only?.right)).toBe(0);
    expect(Number(only?.delta)).toBe(-1);
    expect(await alerts()).toEqual([{
      subject: names.reconAlertSubject('me_db'), msg_id: `alert:${only?.id}`,
      payload: expect.objectContaining({ breakId: only?.id, boundary: 'me_db', kind: 'negative_balance', userId: 'c3', currency: 'BTC', left: '-1', right: '0', delta: '-1', firstSeenAt: expect.any(String) }),
    }]);
    // The break was written in the fenced transaction that marked the step failed.
    expect((await pool.query("SELECT fence_token FROM recon_break_events WHERE break_id = $1 AND event = 'raised'", [only?.id])).rows).toEqual([{ fence_token: String(fence.token) }]);

    const eod = await harness.service();
    const again = await eod.run(d3);
    expect(again.steps.find((s) => s.name === 'balance_snapshot')).toMatchObject({ status: 'failed', attempts: 2, error: expect.stringMatching(/user c3 has a negative balance in BTC \(-1\)/) });
    expect((await breaks()).map((b) => b.id)).toEqual([only?.id]);
    expect(await alerts()).toHaveLength(1);
    expect((await pool.query('SELECT 1 FROM recon_break_events WHERE break_id = $1', [only?.id])).rowCount).toBe(1);
    await eod.stop();
  });
});

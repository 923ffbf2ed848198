import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '../../src/db/pool.js';
import { businessWindow } from '../../src/eod/business-date.js';
import { EodService } from '../../src/eod/close-service.js';
import { reconMeDbStep } from '../../src/eod/steps/recon-me-db.js';
import { EodStepFailure, type EodStep } from '../../src/eod/steps/step.js';
import { claimFence, type Fence } from '../../src/supervisor/fence.js';
import { eodHandlers } from '../../src/admin/eod-handlers.js';
import { until } from '../support/until.js';
import { EodHarness } from '../support/eod-harness.js';

const date = '2026-10-10';
const window = businessWindow(date, { time: '00:00', zone: 'UTC' });
let pool: Pool;
let nc: NatsConnection;
const fence: Fence = { lease: 'eod-test', token: 1, holder: 'test' };
const eodHarness = new EodHarness(fence);
const names = eodHarness.names;

/** What the me_db reconciler and the ledger service would have recorded for the day. */
async function seedDay(): Promise<void> {
  const at = (ms: number) => new Date(ms).toISOString();
  let seq = 0;
  for (const [userId, amount, ms] of [['r1', '3', window.startMs + 10_000], ['r2', '4', window.startMs + 20_000], ['r1', '5', window.endMs + 10_000]] as const) {
    await pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
       VALUES ($1, $2, 'BTC', $3, 'deposit', $1, $4), ($1, 'house:custody', 'BTC', -$3::numeric, 'deposit', $1, $4)`, [`j${seq}`, userId, amount, at(ms)]);
    const prior = await pool.query<{ s: string | null }>("SELECT sum(amount)::text AS s FROM ledger_entries WHERE user_id = $1 AND currency = 'BTC'", [userId]);
    const total = prior.rows[0]?.s ?? '0';
    await pool.query("INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts) VALUES ($1, $2, 'BTC', $3, 0, $3, $4)", [++seq, userId, total, at(ms)]);
  }
}

function service(overrides: Record<string, string>, steps: EodStep[]): Promise<EodService> {
  return eodHarness.service(overrides, { steps });
}

beforeAll(async () => {
  ({ pool, nc } = await eodHarness.open());
  await seedDay();
});

afterAll(async () => {
  await eodHarness.close();
});

describe('re-running a failed close', () => {
  it('a step past EOD_STEP_TIMEOUT_MS fails the run with eod.<step>.failed; the re-run re-does only that step', async () => {
    const failed: unknown[] = [];
    const sub = nc.subscribe(names.eodStepSubject('recon_me_db', 'failed'), { callback: (_e, m) => void failed.push(m.json()) });
    let calls = 0;
    const hanging: EodStep = { ...reconMeDbStep, run: (context) => (++calls === 1 ? new Promise(() => undefined) : reconMeDbStep.run(context)) };
    const eod = await service({ EOD_STEP_TIMEOUT_MS: '400' }, [hanging]);
    const first = await eod.run(date);
    expect(first.status).toBe('failed');
    const meDb = first.steps.find((s) => s.name === 'recon_me_db');
    expect(meDb).toMatchObject({ status: 'failed', attempts: 1 });
    expect(meDb?.error).toMatch(/timed out after 400 ms/);
    expect(first.steps.find((s) => s.name === 'balance_snapshot')).toMatchObject({ status: 'completed', attempts: 1 });
    const snapshotEnded = first.steps.find((s) => s.name === 'balance_snapshot')?.endedAt;
    // No proof against a root that is not signed yet.
    await expect(eod.proofs.proof(date, 'r1', 'BTC')).rejects.toMatchObject({ code: 'NOT_FOUND', field: 'date' });
    const snapshotRows = (await pool.query('SELECT * FROM user_balance_snapshots')).rowCount;
    await nc.flush();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(failed).toEqual([expect.objectContaining({ date, step: 'recon_me_db', attempt: 1 })]);

    const second = await eod.run(date);
    expect(second.status).toBe('sealed');
    expect(second.steps.find((s) => s.name === 'recon_me_db')).toMatchObject({ status: 'completed', attempts: 2 });
    expect(second.steps.find((s) => s.name === 'balance_snapshot')).toMatchObject({ status: 'completed', attempts: 1, endedAt: snapshotEnded });
    expect((await pool.query('SELECT * FROM user_balance_snapshots')).rowCount).toBe(snapshotRows);
    expect(calls).toBe(2);
    expect(await eod.proofs.proof(date, 'r1', 'BTC')).toMatchObject({ userId: 'r1', balance: '3' });
    await eod.stop();
    sub.unsubscribe();
  });

  it('a write under a fence that is no longer current is refused, and nothing is marked', async () => {
    const next = '2026-10-11';
    const eod = await service({}, []);
    await claimFence(pool, { lease: fence.lease, token: 2, holder: 'another' });
    await expect(eod.run(next)).rejects.toThrow(/fence/);
    expect((await pool.query('SELECT * FROM eod_runs WHERE business_date = $1', [next])).rowCount).toBe(0);
    await eod.stop();
  });

  it('a ledger row dated inside the day that lands after the cut was read fails the run; the re-run recomputes and seals it', async () => {
    const next = '2026-10-11';
    const nextWindow = businessWindow(next, { time: '00:00', zone: 'UTC' });
    const newer: Fence = { lease: fence.lease, token: 3, holder: 'test' };
    await claimFence(pool, newer);
    await pool.query("INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts) VALUES (100, 'r2', 'BTC', 5, 0, 5, $1)", [new Date(nextWindow.endMs + 1_000)]);
    let interfere = true;
    const racing: EodStep = {
      ...reconMeDbStep,
      async run(context) {
        const result = await reconMeDbStep.run(context);
        if (interfere) {
          interfere = false;
          await pool.query(
            `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
             VALUES ('late', 'r2', 'BTC', 1, 'deposit', 'late', $1), ('late', 'house:custody', 'BTC', -1, 'deposit', 'late', $1)`, [new Date(nextWindow.startMs + 5_000)]);
        }
        return result;
      },
    };
    const eod = await eodHarness.service({}, { fence: newer, steps: [racing] });
    const first = await eod.run(next);
    expect(first.status).toBe('failed');
    expect(first.steps.find((s) => s.name === 'balance_snapshot')?.error).toMatch(/changed after the cut was taken \(2 rows dated inside the day then, 4 now\)/);
    expect((await pool.query('SELECT 1 FROM user_balance_snapshots WHERE business_date = $1', [next])).rowCount).toBe(0);
    // The engine saw the late deposit too.
    await pool.query("INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts) VALUES (99, 'r2', 'BTC', 5, 0, 5, $1)", [new Date(nextWindow.startMs + 5_000)]);
    const second = await eod.run(next);
    expect(second.status).toBe('sealed');
    const r2 = await pool.query<{ total: string }>("SELECT total::text FROM user_balance_snapshots WHERE business_date = $1 AND user_id = 'r2'", [next]);
    expect(Number(r2.rows[0]?.total)).toBe(5);
    await eod.stop();
  });

  it('admin.eod.run answers `running` when the close outlasts its wait, and the close goes on', async () => {
    const date3 = '2026-10-12';
    const newest: Fence = { lease: fence.lease, token: 4, holder: 'test' };
    await claimFence(pool, newest);
    await pool.query("INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts) VALUES (101, 'r2', 'BTC', 5, 0, 5, $1)", [new Date(window.endMs + 3 * 86_400_000)]);
    const eod = await eodHarness.service({ EOD_STEP_DELAY_MS: '1500' }, { fence: newest });
    const handlers = eodHandlers(() => eod, 300);
    expect(await handlers.run({ date: date3 })).toMatchObject({ date: date3, status: 'running' });
    expect(await handlers.status({ date: date3 })).toMatchObject({ status: 'running' });
    const sealed = await until('sealed', async () => ((await handlers.status({ date: date3 })) as { status: string }).status === 'sealed', 20_000)
      .catch(async (e: unknown) => { throw new Error(`${(e as Error).message}: ${JSON.stringify(await handlers.status({ date: date3 }))}`); });
    expect(sealed).toBe(true);
    // Asked again, it answers at once from what is sealed.
    expect(await handlers.run({ date: date3 })).toMatchObject({ status: 'sealed' });
    await eod.stop();
  });

  it('a day asked for closes the unsealed days before it first; one that cannot seal stops it with CONFLICT naming that day', async () => {
    const [stuck, asked] = ['2026-10-13', '2026-10-14'];
    const newest: Fence = { lease: fence.lease, token: 5, holder: 'test' };
    await claimFence(pool, newest);
    // The engine's history goes on past both cutovers (the snapshot waits for that).
    await pool.query("INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts) VALUES (102, 'r2', 'BTC', 5, 0, 5, $1)", [new Date(window.endMs + 5 * 86_400_000)]);
    const failing: EodStep = { ...reconMeDbStep, run: () => Promise.reject(new EodStepFailure('the engine history is not complete')) };
    const eod = await eodHarness.service({}, { fence: newest, steps: [failing] });
    await expect(eod.run(asked)).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(new RegExp(`${stuck}, an earlier business date, did not seal \\(failed\\); ${asked} waits for it`)) });
    expect((await eod.close.state(stuck)).status).toBe('failed');
    expect((await pool.query('SELECT 1 FROM eod_runs WHERE business_date = $1', [asked])).rowCount).toBe(0);
    await eod.stop();
    // Once the earlier day can seal, asking for the later one seals both, in order.
    const healed = await eodHarness.service({}, { fence: newest });
    expect((await healed.run(asked)).status).toBe('sealed');
    expect((await healed.close.state(stuck)).status).toBe('sealed');
    await healed.stop();
  });
});

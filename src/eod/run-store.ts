import type { Pool, PoolClient } from '../db/pool.js';
import type { Fence } from '../supervisor/fence.js';
import type { EodStepName } from './steps/step.js';

export type StepStatus = 'pending' | 'running' | 'completed' | 'failed' | 'skipped';

export interface StepRow {
  name: string;
  status: StepStatus;
  attempts: number;
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
  output: unknown;
}

/** The rows of `eod_runs` for one date, by step name. */
export async function readStepRows(pool: Pool | PoolClient, date: string): Promise<Map<string, StepRow>> {
  const result = await pool.query<{ step: string; status: StepStatus; attempts: number; started_at: Date | null; ended_at: Date | null; error: string | null; output: unknown }>(
    'SELECT step, status, attempts, started_at, ended_at, error, output FROM eod_runs WHERE business_date = $1', [date]);
  return new Map(result.rows.map((r) => [r.step, {
    name: r.step, status: r.status, attempts: r.attempts, startedAt: r.started_at?.toISOString() ?? null, endedAt: r.ended_at?.toISOString() ?? null, error: r.error, output: r.output,
  }]));
}

/** Starts an attempt (never over a completed step); returns its number, or null when the step is already completed. */
export async function markRunning(client: PoolClient, date: string, step: EodStepName, fence: Fence): Promise<number | null> {
  const result = await client.query<{ attempts: number }>(
    `INSERT INTO eod_runs (business_date, step, status, attempts, started_at, fence_token) VALUES ($1, $2, 'running', 1, clock_timestamp(), $3)
     ON CONFLICT (business_date, step) DO UPDATE SET status = 'running', attempts = eod_runs.attempts + 1, started_at = clock_timestamp(),
       ended_at = NULL, error = NULL, output = NULL, fence_token = EXCLUDED.fence_token
       WHERE eod_runs.status <> 'completed'
     RETURNING attempts`,
    [date, step, fence.token]);
  return result.rows[0]?.attempts ?? null;
}

export async function markCompleted(client: PoolClient, date: string, step: EodStepName, output: unknown): Promise<void> {
  await client.query(
    `UPDATE eod_runs SET status = 'completed', ended_at = clock_timestamp(), output = $3, error = NULL WHERE business_date = $1 AND step = $2 AND status = 'running'`,
    [date, step, JSON.stringify(output)]);
}

export async function markFailed(client: PoolClient, date: string, step: EodStepName, error: string): Promise<void> {
  await client.query(
    `UPDATE eod_runs SET status = 'failed', ended_at = clock_timestamp(), error = $3 WHERE business_date = $1 AND step = $2 AND status = 'running'`,
    [date, step, error.slice(0, 4_000)]);
}

/** A step that does not run in this deployment; a completed step stays completed. */
export async function markSkipped(client: PoolClient, date: string, step: EodStepName, reason: string, fence: Fence): Promise<void> {
  await client.query(
    `INSERT INTO eod_runs (business_date, step, status, attempts, started_at, ended_at, error, output, fence_token)
     VALUES ($1, $2, 'skipped', 0, NULL, NULL, $3, $4, $5)
     ON CONFLICT (business_date, step) DO UPDATE SET status = 'skipped', error = EXCLUDED.error, output = EXCLUDED.output, fence_token = EXCLUDED.fence_token
       WHERE eod_runs.status NOT IN ('completed', 'skipped')`,
    [date, step, reason, JSON.stringify({ reason }), fence.token]);
}

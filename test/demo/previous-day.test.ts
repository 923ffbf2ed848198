import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAndClosePreviousDay } from '../../src/demo/previous-day.js';
import { lastClosedDate } from '../../src/eod/business-date.js';
import { verifyReportFiles } from '../../src/eod/report/index.js';
import { silentLogger } from '../support/log.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';

let t: TestEngine;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'recon-demo-day-'));
  t = await startTestEngine({ EOD_SCHEDULER: 'off', EOD_REPORTS_DIR: path.join(dir, 'reports') });
});

afterAll(async () => {
  await t?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the demo's previous day", () => {
  it('is written inside yesterday, closed and sealed, with its faults in the report, and the file verifies', async () => {
    await writeAndClosePreviousDay({ nc: t.client, pool: t.pool, names: t.names, settings: t.settings, log: silentLogger() });
    const date = lastClosedDate(Date.now(), { time: '00:00', zone: 'UTC' });
    const status = (await t.admin('eod.status', { date })) as { status: string; steps: Array<{ name: string; status: string; error?: string }> };
    expect(status.status, JSON.stringify(status.steps.filter((s) => s.error))).toBe('sealed');
    const file = path.join(dir, 'reports', `${date}.json`);
    expect(await verifyReportFiles([file])).toMatchObject({ ok: true });
    const doc = JSON.parse(await readFile(file, 'utf8')) as { report: { breaks: Array<{ kind: string; currency: string }>; liabilities: unknown[] } };
    expect(doc.report.breaks).toEqual([expect.objectContaining({ kind: 'currency_nonzero', currency: 'USDT' })]);
    expect(doc.report.liabilities).toHaveLength(3);
  });
});

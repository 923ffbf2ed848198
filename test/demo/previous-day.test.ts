import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAndClosePreviousDay } from '../../src/demo/previous-day.js';
import { lastClosedDate } from '../../src/eod/business-date.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { verifyReportFiles } from '../../src/eod/report/index.js';
import { silentLogger } from '../support/log.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';

let t: TestEngine;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'recon-demo-day-'));
  t = await startTestEngine({ EOD_SCHEDULER: 'off', EOD_REPORTS_DIR: path.join(dir, 'reports') });
  // The accounts the demo's compliance events name, active as the live demo opens them.
  for (const userId of ['demo0004', 'demo0007']) {
    await t.admin('account.create', { userId });
    await t.admin('account.transition', { userId, target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' });
    await t.admin('account.transition', { userId, target: 'active', reasonCode: 'first_deposit', authority: 'system', actorId: 'ledger' });
  }
});

afterAll(async () => {
  await t?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the demo's previous day", () => {
  it('is written inside yesterday, closed and sealed, with its faults in the report, and the file verifies', async () => {
    // Yesterday is replayed in one burst next to the live accounts: me_db must see lag, not breaks (ADR 0005, Later).
    const balanceAlerts: BreakAlert[] = [];
    const sub = t.client.subscribe(t.names.reconAlertSubject('me_db'), { callback: (_e, msg) => {
      const alert = msg.json<BreakAlert>();
      if (alert.kind === 'balance') balanceAlerts.push(alert);
    } });
    await t.client.flush();
    await writeAndClosePreviousDay({ nc: t.client, pool: t.pool, names: t.names, settings: t.settings, log: silentLogger() });
    const date = lastClosedDate(Date.now(), { time: '00:00', zone: 'UTC' });
    const status = (await t.admin('eod.status', { date })) as { status: string; steps: Array<{ name: string; status: string; error?: string }> };
    expect(status.status, JSON.stringify(status.steps.filter((s) => s.error))).toBe('sealed');
    const file = path.join(dir, 'reports', `${date}.json`);
    expect(await verifyReportFiles([file])).toMatchObject({ ok: true });
    const doc = JSON.parse(await readFile(file, 'utf8')) as { report: { breaks: Array<{ kind: string; currency: string }>; liabilities: unknown[] } };
    expect(doc.report.breaks).toEqual([expect.objectContaining({ kind: 'currency_nonzero', currency: 'USDT' })]);
    expect(doc.report.liabilities).toHaveLength(3);
    // The money and compliance steps have real figures (issue 9).
    const steps = (doc.report as unknown as { steps: Array<{ name: string; status: string; figures: Record<string, unknown> }> }).steps;
    const figures = (name: string) => steps.find((s) => s.name === name)!.figures;
    expect(Number(figures('pnl').fills)).toBeGreaterThan(100);
    expect((figures('pnl').markPrices as unknown[]).length).toBe(3);
    expect(Number(figures('fee_accrual').journals)).toBeGreaterThan(50);
    expect((figures('fee_accrual').crossCheck as Array<{ delta: string }>).every((c) => c.delta === '0')).toBe(true);
    expect(Number(figures('volume_rollup').users)).toBeGreaterThan(50);
    expect(figures('sanctions')).toMatchObject({ events: 1, applied: 1, lines: [{ userId: 'demo0007', list: 'OFAC-SDN', from: 'active', to: 'suspended' }] });
    // demo0004 was suspended for re-KYC and is reactivated; the sanctioned demo0007 is not, and is listed for review.
    expect(figures('kyc_reactivation')).toMatchObject({ events: 2, applied: 1, refused: 1, forReview: [{ userId: 'demo0007', outcome: 'refused' }] });
    expect((figures('volume_rollup').tierChanges as unknown[]).length).toBeGreaterThan(0);
    expect(figures('admin_adjustments')).toMatchObject({ adjustments: 1, byCurrency: [{ currency: 'USDT', net: '25' }] });
    await new Promise((r) => setTimeout(r, t.settings.RECON_GRACE_MS + 1_500));
    sub.unsubscribe();
    expect(balanceAlerts.map((a) => `${a.userId}/${a.currency}`)).toEqual([]);
  });
});

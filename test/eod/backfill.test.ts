import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decimalToMinor, minorToDecimal } from '../../src/config/decimal.js';
import { businessWindow } from '../../src/eod/business-date.js';
import { verifyProof } from '../../src/eod/proof/verify-proof.js';
import { loadOrCreateSigningKey } from '../../src/eod/report/index.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { until } from '../support/until.js';
import { depositsDuring, ExchangeFixture, unit, type Movement } from './exchange-fixture.js';

const cutover = { time: '16:00', zone: 'America/New_York' };
// 8 March 2026: clocks go forward, a 23-hour business day.
const [d1, d2, d3] = ['2026-03-08', '2026-03-09', '2026-03-10'] as const;
const [w1, w2, w3] = [d1, d2, d3].map((d) => businessWindow(d, cutover)) as [ReturnType<typeof businessWindow>, ReturnType<typeof businessWindow>, ReturnType<typeof businessWindow>];
const users = Array.from({ length: 1_000 }, (_, i) => `bf${String(i).padStart(4, '0')}`);

type ReportDoc = { date: string; sha256: string; report: { liabilities: Array<{ currency: string; total: string; leafCount: number }>; steps: Array<{ name: string; figures: Record<string, unknown> }> } };

let dir: string;
let onTime: TestEngine;
let late: TestEngine;

const day1: Movement[] = [
  ...depositsDuring(users, ['BTC', 'ETH'], w1.startMs, w1.endMs, 11),
  { userId: 'bf0000', currency: 'BTC', amountMinor: 3n * unit, atMs: w1.endMs - 1_000 },
];
const after: Movement[] = [
  { userId: 'bf0001', currency: 'BTC', amountMinor: 2n * unit, atMs: w1.endMs + 1_000 },
  ...depositsDuring(users.slice(0, 300), ['BTC'], w2.startMs, w2.endMs, 12),
  ...depositsDuring(users.slice(200, 600), ['ETH'], w3.startMs, w3.endMs, 13),
];

async function engine(): Promise<{ t: TestEngine; fx: ExchangeFixture }> {
  const t = await startTestEngine({ EOD_CUTOVER_TIME: cutover.time, EOD_TIMEZONE: cutover.zone, EOD_SCHEDULER: 'off', EOD_REPORTS_DIR: path.join(dir, `reports-${Math.random()}`), EOD_SIGNING_KEY_FILE: path.join(dir, 'key.pem') });
  return { t, fx: new ExchangeFixture(t.pool, t.client, t.names) };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'recon-eod-backfill-'));
  loadOrCreateSigningKey(path.join(dir, 'key.pem'));
  const a = await engine();
  const b = await engine();
  onTime = a.t;
  late = b.t;
  await a.fx.apply(day1);
  await b.fx.apply(day1);
  await b.fx.apply(after);
  await until('both histories recorded', async () => (await a.fx.recorded()) && (await b.fx.recorded()), 40_000);
}, 120_000);

afterAll(async () => {
  await onTime?.close();
  await late?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('back-fill', () => {
  it('a day closed two days late seals exactly what it sealed on time (same sha256)', async () => {
    const first = (await onTime.admin('eod.run', { date: d1 })) as { status: string };
    expect(first, JSON.stringify(first)).toMatchObject({ status: 'sealed' });
    expect(((await late.admin('eod.run', { date: d1 })) as { status: string }).status).toBe('sealed');
    const a = (await onTime.admin('eod.report', { date: d1 })) as ReportDoc;
    const b = (await late.admin('eod.report', { date: d1 })) as ReportDoc;
    expect(b.report).toEqual(a.report);
    expect(b.sha256).toBe(a.sha256);
    // The movement a second after the cutover is not in D1, the one a second before is.
    const snapshot = async (userId: string) => Number((await late.pool.query<{ total: string }>(
      "SELECT total::text FROM user_balance_snapshots WHERE business_date = $1 AND user_id = $2 AND currency = 'BTC'", [d1, userId])).rows[0]?.total);
    const dayOne = (userId: string) => day1.filter((m) => m.userId === userId && m.currency === 'BTC').reduce((s, m) => s + m.amountMinor, 0n);
    expect(await snapshot('bf0000')).toBe(Number(minorToDecimal(dayOne('bf0000'), 18)));
    expect(await snapshot('bf0001')).toBe(Number(minorToDecimal(dayOne('bf0001'), 18)));
    expect(((await late.admin('eod.run', { date: d2 })) as { status: string }).status).toBe('sealed');
    expect(Number((await late.pool.query<{ total: string }>(
      "SELECT total::text FROM user_balance_snapshots WHERE business_date = $1 AND user_id = 'bf0001' AND currency = 'BTC'", [d2])).rows[0]?.total))
      .toBeGreaterThanOrEqual(await snapshot('bf0001') + 2);
  });

  it('every user of a 1,000-user book: the proof verifies against the signed root, and fails one minor unit off', async () => {
    const report = (await onTime.admin('eod.report', { date: d1 })) as ReportDoc;
    const btc = report.report.liabilities.find((l) => l.currency === 'BTC');
    expect(btc?.leafCount).toBe(1_000);
    const ledger = await onTime.pool.query<{ s: string }>(
      "SELECT sum(amount)::text AS s FROM ledger_entries WHERE currency = 'BTC' AND user_id NOT LIKE 'house:%' AND created_at < $1", [new Date(w1.endMs)]);
    expect(decimalToMinor(btc!.total, 18)).toBe(decimalToMinor(ledger.rows[0]!.s, 18));
    for (let i = 0; i < users.length; i += 50) {
      await Promise.all(users.slice(i, i + 50).map(async (userId) => {
        const proof = (await onTime.admin('eod.proof', { date: d1, userId, currency: 'BTC' })) as { balance: string };
        expect(verifyProof(proof, { report: report.report })).toMatchObject({ ok: true, checkedAgainstReport: true });
        const plus = { ...proof, balance: minorToDecimal(decimalToMinor(proof.balance, 18) + 1n, 18) };
        const minus = { ...proof, balance: minorToDecimal(decimalToMinor(proof.balance, 18) - 1n, 18) };
        expect(verifyProof(plus, { report: report.report }).ok).toBe(false);
        expect(verifyProof(minus, { report: report.report }).ok).toBe(false);
      }));
    }
  });
});

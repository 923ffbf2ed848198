import type { Subscription } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExchangeSimulator, type ExchangeSimulator, type FaultHandle } from '../../src/adapters/exchange-simulator/index.js';
import { minorToDecimal } from '../../src/config/decimal.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { silentLogger } from '../support/log.js';
import { until } from '../support/until.js';

const users = Array.from({ length: 8 }, (_, i) => `fu${i + 1}`);
let t: TestEngine;
let sim: ExchangeSimulator;
const alerts: BreakAlert[] = [];
const resolved: BreakAlert[] = [];
const subscriptions: Subscription[] = [];


function collect(subject: string, into: BreakAlert[]): void {
  const sub = t.client.subscribe(subject, { callback: (_e, msg) => void into.push(msg.json<BreakAlert>()) });
  subscriptions.push(sub);
}

async function state(userId: string): Promise<string> {
  return ((await t.admin('account.get', { userId })) as { state: string }).state;
}

beforeAll(async () => {
  t = await startTestEngine({ RECON_GRACE_MS: '1000' });
  for (const userId of users) {
    await t.admin('account.create', { userId });
    await t.admin('account.transition', { userId, target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' });
    await t.admin('account.transition', { userId, target: 'active', reasonCode: 'first_deposit', authority: 'system', actorId: 'ledger' });
  }
  collect(t.names.reconAlertSubject('me_db'), alerts);
  collect(t.names.reconResolvedSubject('me_db'), resolved);
  await t.client.flush();
  sim = await startExchangeSimulator({
    nc: t.client, pool: t.pool, names: t.names, seed: 7, rateEventsPerSec: 300, users, currencies: ['BTC', 'USDT'], log: silentLogger(),
  });
});

afterAll(async () => {
  for (const sub of subscriptions) sub.unsubscribe();
  await sim?.stop();
  await t?.close();
});

/** Injects one fault during traffic, then checks: one alert per discrepancy, accounts frozen, fix resolves. */
async function exercise(inject: () => FaultHandle): Promise<void> {
  await new Promise((r) => setTimeout(r, 500));
  const alertsBefore = alerts.length;
  const handle = inject();
  const report = await handle.settled;
  await sim.pause();
  expect(report.discrepancies.length).toBeGreaterThan(0);

  const expected = report.discrepancies.map((d) => ({ userId: d.userId, currency: d.currency, delta: minorToDecimal(d.deltaMinor, 18) }));
  await until('one alert per discrepancy', () => alerts.length - alertsBefore >= expected.length);
  await new Promise((r) => setTimeout(r, 1_500)); // nothing else may follow (no re-paging)
  const raised = alerts.slice(alertsBefore);
  expect(raised.map((a) => ({ userId: a.userId, currency: a.currency, delta: a.delta })).sort(byKey)).toEqual(expected.sort(byKey));
  for (const alert of raised) {
    expect(alert).toMatchObject({ boundary: 'me_db', kind: 'balance', breakId: expect.any(String), firstSeenAt: expect.any(String) });
    expect(BigInt(alert.left?.replace('.', '') ?? '0')).not.toBe(BigInt(alert.right?.replace('.', '') ?? '0'));
  }

  // Each break froze its account (FSM → suspended, authority system).
  const frozen = [...new Set(raised.map((a) => a.userId ?? ''))];
  for (const userId of frozen) {
    await until(`${userId} suspended`, async () => (await state(userId)) === 'suspended');
    const history = (await t.admin('account.history', { userId })) as { transitions: Array<{ to: string; authority: string; reasonCode: string }> };
    expect(history.transitions.at(-1)).toMatchObject({ to: 'suspended', authority: 'system', reasonCode: 'recon_break_me_db' });
  }
  const status = (await t.admin('recon.status', {})) as { boundaries: Array<{ name: string; openBreaks: number; enabled: boolean }> };
  expect(status.boundaries.find((b) => b.name === 'me_db')).toMatchObject({ enabled: true, openBreaks: raised.length });

  // Fixing the fault resolves every break it caused.
  await sim.fix(handle.faultId);
  await until('every break resolved', () => raised.every((a) => resolved.some((r) => r.breakId === a.breakId)));
  const after = (await t.admin('recon.status', {})) as { boundaries: Array<{ name: string; openBreaks: number }> };
  expect(after.boundaries.find((b) => b.name === 'me_db')?.openBreaks).toBe(0);

  for (const userId of frozen) {
    await t.admin('account.transition', { userId, target: 'active', reasonCode: 'recon_cleared', authority: 'admin', actorId: 'ops' });
  }
  sim.resume();
}

const byKey = (a: { userId?: string; currency: string | null }, b: { userId?: string; currency: string | null }): number =>
  `${a.userId}/${a.currency}`.localeCompare(`${b.userId}/${b.currency}`);

describe('me_db fault knobs', () => {
  it('an engine balance change with no ledger entry', async () => {
    await exercise(() => sim.faults.engineOnlyChange({ userId: 'fu3', currency: 'USDT', deltaMinor: 12_345_000_000_000_000_000n }));
  });

  it('a dropped ledger write', async () => {
    await exercise(() => sim.faults.dropLedgerWrite({ userId: 'fu5', journalCount: 1 }));
  });

  it('a trade applied twice on one side', async () => {
    await exercise(() => sim.faults.doubleApplyTrade({ userId: 'fu7' }));
  });

  it('never re-pages a persisting break, and all passing checks are journalled', async () => {
    const checks = await t.pool.query<{ n: number; compared: number }>(
      "SELECT count(*)::int AS n, sum(keys_compared)::int AS compared FROM recon_checks WHERE boundary = 'me_db'");
    expect(checks.rows[0]?.n).toBeGreaterThan(5);
    expect(checks.rows[0]?.compared).toBeGreaterThan(0);
    const rows = await t.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM recon_breaks WHERE boundary = 'me_db' AND kind = 'balance'");
    expect(rows.rows[0]?.n).toBe(alerts.filter((a) => a.kind === 'balance').length);
  });
});

import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { balanceEventWireOf, type BalanceEvent } from '../adapters/matching-engine/contract.js';
import { ensureBalanceStream } from '../adapters/exchange-simulator/balance-stream.js';
import { Prng } from '../adapters/exchange-simulator/prng.js';
import { minorToDecimal } from '../config/decimal.js';
import type { Settings } from '../config/settings.js';
import type { Pool } from '../db/pool.js';
import { businessWindow, lastClosedDate } from '../eod/business-date.js';
import type { NatsNames } from '../nats/names.js';
import type { Logger } from '../observability/logger.js';
import { planDayMoney, recordDayMoney } from './previous-day-money.js';

export interface PreviousDayDeps {
  nc: NatsConnection;
  pool: Pool;
  names: NatsNames;
  settings: Settings;
  log: Logger;
}

const usersCount = 300;
const currencies = ['BTC', 'ETH', 'USDT'] as const;
const unit = 10n ** 18n;
/** The close waits up to 60 s on the leader; the demo asks once and waits a little longer. */
const closeRequestTimeoutMs = 90_000;

interface Leg { userId: string; currency: string; amountMinor: bigint }

/**
 * The demo's yesterday: the previous business date's activity written as the exchange would
 * have written it (ledger rows with created_at inside the day, engine balance events with ts
 * inside it and the next engine seqs), a few hundred users, and two faults that the close
 * reports without being blocked by them: a fee journal booked without its counter-leg (Σ USDT
 * over all accounts ≠ 0 at the cut) and a ledger write that lagged its engine event by minutes
 * (a break intraday, resolved before the cut). Then the day is closed through `admin.eod.run`.
 */
export async function writeAndClosePreviousDay(deps: PreviousDayDeps): Promise<void> {
  const { nc, pool, names, settings, log } = deps;
  const cutover = { time: settings.EOD_CUTOVER_TIME, zone: settings.EOD_TIMEZONE };
  const date = lastClosedDate(Date.now(), cutover);
  const window = businessWindow(date, cutover);
  const existing = await pool.query('SELECT 1 FROM ledger_entries WHERE created_at >= $1 AND created_at < $2 LIMIT 1', [new Date(window.startMs), new Date(window.endMs)]);
  if ((existing.rowCount ?? 0) === 0) await writeDay(deps, date, window);
  log.info({ event: 'demo.previous_day.closing', date }, `demo: closing business date ${date} (cutover ${cutover.time} ${cutover.zone})`);
  const reply = (await nc.request(`${names.adminPrefix}.eod.run`, JSON.stringify({ date }), { timeout: closeRequestTimeoutMs })).json<{ status?: string; error?: { message: string } }>();
  const dir = path.resolve(settings.EOD_REPORTS_DIR);
  if (reply.status !== 'sealed') {
    log.warn({ event: 'demo.previous_day.not_sealed', date, reply }, `demo: the close of ${date} did not seal: ${reply.error?.message ?? reply.status ?? 'no answer'} (see admin.eod.status)`);
    return;
  }
  const json = path.join(dir, `${date}.json`);
  log.info(
    { event: 'demo.previous_day.sealed', date, json, html: path.join(dir, `${date}.html`) },
    `demo: ${date} sealed. Report: ${json} (and ${date}.html beside it). Verify it: npx recon report verify ${json}`,
  );
}

async function writeDay(deps: PreviousDayDeps, date: string, window: { startMs: number; endMs: number }): Promise<void> {
  const { nc, pool, names, log, settings } = deps;
  const prng = new Prng(settings.SIMULATOR_SEED * 7_919 + 17);
  const pick = (n: number): number => prng.nextUint32() % n;
  const users = Array.from({ length: usersCount }, (_, i) => `demo${String(i + 1).padStart(4, '0')}`);
  const balances = new Map<string, bigint>();
  /** `at`: the ledger row's created_at; `engineAt`: when the engine applied the change (they differ for the lagged write). */
  const rows: Array<{ journal: string; leg: Leg; ref: string; at: number; engineAt: number; type?: string }> = [];
  const spanMs = window.endMs - window.startMs;
  const journal = (name: string, legs: Leg[], ref: string, at: number, engineAt = at, type?: string): void => {
    for (const leg of legs) {
      rows.push({ journal: name, leg, ref, at, engineAt, ...(type ? { type } : {}) });
      const key = `${leg.userId}/${leg.currency}`;
      balances.set(key, (balances.get(key) ?? 0n) + leg.amountMinor);
    }
  };
  let n = 0;
  // Deposits first (each user, one to three currencies), then withdrawals and trades.
  for (const userId of users) {
    for (const currency of currencies) {
      if (pick(3) === 0) continue;
      const amountMinor = BigInt(1 + pick(5_000)) * (currency === 'USDT' ? unit : unit / 1_000n);
      const at = window.startMs + 1_000 + pick(Math.floor(spanMs / 2));
      journal(`demo-prev-${++n}`, [{ userId, currency, amountMinor }, { userId: 'house:custody', currency, amountMinor: -amountMinor }], `demo-prev-dep-${n}`, at);
    }
  }
  for (let i = 0; i < usersCount; i++) {
    const userId = users[pick(usersCount)] as string;
    const currency = currencies[pick(currencies.length)] as string;
    const held = balances.get(`${userId}/${currency}`) ?? 0n;
    if (held === 0n) continue;
    const amountMinor = held / BigInt(2 + pick(4));
    const at = window.startMs + Math.floor(spanMs / 2) + pick(Math.floor(spanMs / 2) - 2_000);
    journal(`demo-prev-${++n}`, [{ userId, currency, amountMinor: -amountMinor }, { userId: 'house:custody', currency, amountMinor }], `demo-prev-wd-${n}`, at);
  }
  // Trades with their fills, an adjustment, a sanctions hit and a KYC re-verification (issue 9).
  const money = planDayMoney({ date, pick, users, balances, window, journal, nextJournal: () => `demo-prev-${++n}` });
  // Fault 1: a ledger write that lagged its engine event by five minutes (resolved before the cut).
  const lagged = users[1] as string;
  const lagAt = window.endMs - 20 * 60_000;
  journal(`demo-prev-${++n}`, [{ userId: lagged, currency: 'ETH', amountMinor: unit }, { userId: 'house:custody', currency: 'ETH', amountMinor: -unit }], `demo-prev-lag-${n}`, lagAt + 5 * 60_000, lagAt);
  // Fault 2: a fee booked to house:fees with no counter-leg: Σ USDT over all accounts is 0.5, not 0.
  rows.push({ journal: `demo-prev-${++n}`, leg: { userId: 'house:fees', currency: 'USDT', amountMinor: unit / 2n }, ref: `demo-prev-fee-${n}`, at: window.endMs - 10 * 60_000, engineAt: window.endMs - 10 * 60_000 });

  rows.sort((a, b) => a.at - b.at);
  for (let i = 0; i < rows.length; i += 5_000) {
    const slice = rows.slice(i, i + 5_000);
    await pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::text[], $6::text[], $7::timestamptz[])`,
      [slice.map((r) => r.journal), slice.map((r) => r.leg.userId), slice.map((r) => r.leg.currency), slice.map((r) => minorToDecimal(r.leg.amountMinor, 18)),
        slice.map((r) => r.type ?? 'demo_previous_day'), slice.map((r) => r.ref), slice.map((r) => new Date(r.at).toISOString())],
    );
  }
  // The engine's side: one event per change, in time order, numbered after the stream's last seq.
  const { lastSeq } = await ensureBalanceStream(nc, names);
  const running = new Map<string, bigint>();
  let seq = lastSeq;
  const events: BalanceEvent[] = [];
  for (const { leg, engineAt } of rows.filter((r) => !r.leg.userId.startsWith('house:')).sort((a, b) => a.engineAt - b.engineAt)) {
    const key = `${leg.userId}/${leg.currency}`;
    const total = (running.get(key) ?? 0n) + leg.amountMinor;
    running.set(key, total);
    events.push({ seq: ++seq, userId: leg.userId, currency: leg.currency, totalMinor: total, lockedMinor: 0n, availableMinor: total, tsMs: engineAt });
  }
  const js = jetstream(nc);
  for (let i = 0; i < events.length; i += 500) {
    await Promise.all(events.slice(i, i + 500).map((e) => js.publish(names.meBalanceSubject(e.userId), JSON.stringify(balanceEventWireOf(e)))));
  }
  await recordDayMoney({ pool, nc, names }, money);
  log.info({ event: 'demo.previous_day.money', date, fills: money.fills.length }, `demo: ${money.fills.length} fills, an adjustment, a sanctions hit and a KYC re-verification on ${date}`);
  log.info({ event: 'demo.previous_day.written', date, users: usersCount, ledgerRows: rows.length, engineEvents: events.length },
    `demo: wrote business date ${date}: ${rows.length} ledger rows, ${events.length} engine events, ${usersCount} users, 2 faults`);
}

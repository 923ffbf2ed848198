/**
 * A tiny exchange for the close's tests: each movement is one balanced ledger journal (user
 * against house:custody) dated `atMs` and the engine balance event it causes, with `ts` = `atMs`,
 * published on the engine's stream as the matching engine would. Amounts are minor units.
 */
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { minorToDecimal } from '../../src/config/decimal.js';
import type { Pool } from '../../src/db/pool.js';
import type { NatsNames } from '../../src/nats/names.js';

export const unit = 10n ** 18n;
const whole = (m: bigint): string => minorToDecimal(m, 18);

export interface Movement {
  userId: string;
  currency: string;
  amountMinor: bigint;
  atMs: number;
}

export class ExchangeFixture {
  private seq = 0;
  private journal = 0;
  readonly balances = new Map<string, bigint>();
  published = 0;

  constructor(private readonly pool: Pool, private readonly nc: NatsConnection, private readonly names: NatsNames, private readonly prefix = 'j') {}

  /** Writes the movements (ledger rows in one statement, then their engine events in order). */
  async apply(movements: readonly Movement[]): Promise<void> {
    const rows: Array<[string, string, string, string, string]> = [];
    const events: Array<{ userId: string; payload: string }> = [];
    for (const m of [...movements].sort((a, b) => a.atMs - b.atMs)) {
      const key = `${m.userId}/${m.currency}`;
      const total = (this.balances.get(key) ?? 0n) + m.amountMinor;
      this.balances.set(key, total);
      const journalId = `${this.prefix}${++this.journal}`;
      const at = new Date(m.atMs).toISOString();
      rows.push([journalId, m.userId, m.currency, whole(m.amountMinor), at], [journalId, 'house:custody', m.currency, whole(-m.amountMinor), at]);
      const locked = total / 4n;
      events.push({ userId: m.userId, payload: JSON.stringify({ seq: ++this.seq, userId: m.userId, currency: m.currency, total: whole(total), locked: whole(locked), available: whole(total - locked), ts: at }) });
    }
    for (let i = 0; i < rows.length; i += 5_000) {
      const slice = rows.slice(i, i + 5_000);
      await this.pool.query(
        `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
         SELECT j, u, c, a, 'deposit', j, t FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::timestamptz[]) AS x(j, u, c, a, t)`,
        [slice.map((r) => r[0]), slice.map((r) => r[1]), slice.map((r) => r[2]), slice.map((r) => r[3]), slice.map((r) => r[4])]);
    }
    const js = jetstream(this.nc);
    for (let i = 0; i < events.length; i += 500) {
      await Promise.all(events.slice(i, i + 500).map((e) => js.publish(this.names.meBalanceSubject(e.userId), e.payload)));
    }
    this.published += events.length;
  }

  /** Until the me_db reconciler has recorded every published event as history. */
  async recorded(): Promise<boolean> {
    const result = await this.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM engine_balance_history');
    return Number(result.rows[0]?.n) >= this.published;
  }
}

/** `count` deposits spread over [startMs, endMs), deterministic. */
export function depositsDuring(users: readonly string[], currencies: readonly string[], startMs: number, endMs: number, salt = 1): Movement[] {
  const out: Movement[] = [];
  let n = salt;
  for (const userId of users) {
    for (const currency of currencies) {
      n = (n * 48271) % 2147483647;
      const amountMinor = BigInt(1 + (n % 1_000_000)) * 10n ** 12n;
      const atMs = startMs + 1_000 + (n % Math.max(1, endMs - startMs - 2_000));
      out.push({ userId, currency, amountMinor, atMs });
    }
  }
  return out;
}

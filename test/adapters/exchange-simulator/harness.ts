import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { parseBalanceEvent, type BalanceEvent } from '../../../src/adapters/matching-engine/contract.js';
import { startExchangeSimulator, type ExchangeSimulator, type ExchangeSimulatorOptions } from '../../../src/adapters/exchange-simulator/index.js';
import type { Discrepancy } from '../../../src/adapters/exchange-simulator/index.js';
import { decimalToMinor } from '../../../src/config/decimal.js';
import { createPool, type Pool } from '../../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../../src/nats/names.js';
import { createTestDatabase, type TestDatabase } from '../../support/database.js';
import { silentLogger } from '../../support/log.js';
import { sharedNatsUrl, testNamespace } from '../../support/nats.js';
import { removeTopology } from '../../../src/nats/topology.js';

export interface SimulatorHarness {
  sim: ExchangeSimulator;
  nc: NatsConnection;
  pool: Pool;
  names: NatsNames;
  database: TestDatabase;
  close(): Promise<void>;
}

/** A simulator on the shared NATS (own namespace) and a fresh migrated database; close() removes both. */
export async function startSimulatorHarness(
  options: Partial<Omit<ExchangeSimulatorOptions, 'nc' | 'pool' | 'names' | 'log'>> = {},
): Promise<SimulatorHarness> {
  const database = await createTestDatabase();
  const nc = await connect({ servers: sharedNatsUrl() });
  const pool = createPool(database.url, 4);
  const names = natsNames(testNamespace());
  let sim: ExchangeSimulator;
  try {
    sim = await startExchangeSimulator({
      nc,
      pool,
      names,
      seed: 42,
      rateEventsPerSec: 300,
      users: 12,
      currencies: ['BTC', 'ETH', 'USDT'],
      log: silentLogger(),
      ...options,
    });
  } catch (error) {
    await cleanup(nc, pool, names, database);
    throw error;
  }
  return {
    sim,
    nc,
    pool,
    names,
    database,
    async close() {
      await sim.stop();
      await cleanup(nc, pool, names, database);
    },
  };
}

async function cleanup(nc: NatsConnection, pool: Pool, names: NatsNames, database: TestDatabase): Promise<void> {
  await removeTopology(nc, names);
  await nc.close();
  await pool.end();
  await database.drop();
}

const signedMinor = (text: string): bigint => (text.startsWith('-') ? -decimalToMinor(text.slice(1), 18) : decimalToMinor(text, 18));
const keyOf = (userId: string, currency: string): string => `${userId}/${currency}`;

/** Σ ledger_entries.amount per (user, currency), house accounts included, as bigint minor units. */
export async function ledgerTotals(pool: Pool): Promise<Map<string, bigint>> {
  const { rows } = await pool.query<{ user_id: string; currency: string; total: string }>(
    'SELECT user_id, currency, sum(amount)::text AS total FROM ledger_entries GROUP BY user_id, currency',
  );
  return new Map(rows.map((r) => [keyOf(r.user_id, r.currency), signedMinor(r.total)]));
}

/** Journals (and currencies) whose entries do not sum to zero. */
export async function unbalancedJournals(pool: Pool): Promise<{ journal_id: string; currency: string; total: string }[]> {
  const { rows } = await pool.query<{ journal_id: string; currency: string; total: string }>(
    'SELECT journal_id, currency, sum(amount)::text AS total FROM ledger_entries GROUP BY journal_id, currency HAVING sum(amount) <> 0',
  );
  return rows;
}

/** engine − ledger for every non-house (user, currency) where they differ, sorted like FaultReport.discrepancies. */
export async function engineMinusLedger(sim: ExchangeSimulator, pool: Pool): Promise<Discrepancy[]> {
  const ledger = await ledgerTotals(pool);
  const diff = new Map<string, Discrepancy>();
  for (const row of sim.registry()) {
    diff.set(keyOf(row.userId, row.currency), { userId: row.userId, currency: row.currency, deltaMinor: row.totalMinor });
  }
  for (const [key, total] of ledger) {
    const [userId = '', currency = ''] = key.split('/');
    if (userId.startsWith('house:')) continue;
    const seen = diff.get(key);
    if (seen) seen.deltaMinor -= total;
    else diff.set(key, { userId, currency, deltaMinor: -total });
  }
  return [...diff.values()]
    .filter((d) => d.deltaMinor !== 0n)
    .sort((a, b) => (a.userId === b.userId ? (a.currency < b.currency ? -1 : 1) : a.userId < b.userId ? -1 : 1));
}

/** Every event in the balance stream, in stream order, each parsed against the contract. */
export async function readBalanceEvents(nc: NatsConnection, names: NatsNames): Promise<{ events: BalanceEvent[]; violations: string[] }> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(names.meBalanceStream);
  const total = info.state.messages;
  const events: BalanceEvent[] = [];
  const violations: string[] = [];
  if (total === 0) return { events, violations };
  const consumer = await jetstream(nc).consumers.get(names.meBalanceStream);
  const messages = await consumer.consume();
  for await (const msg of messages) {
    const parsed = parseBalanceEvent(msg.data, { subjectUserId: msg.subject.slice(msg.subject.lastIndexOf('.') + 1) });
    if (parsed.ok) events.push(parsed.event);
    else violations.push(parsed.reason);
    if (events.length + violations.length >= total) break;
  }
  await messages.close();
  return { events, violations };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `promise`, failing with `what` after `timeoutMs`. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

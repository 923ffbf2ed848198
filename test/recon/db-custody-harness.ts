/**
 * The db_custody reconciler on the shared NATS (own namespace) and a fresh database, with the
 * real BitGo SDK pointed at the local simulator. Collects alerts, resolutions and withdrawal
 * pause / resume events as they are published.
 */
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { BitgoSimulator, randomV2AccessToken, type SimulatedWalletInit } from '../../src/adapters/bitgo/simulator/index.js';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { startDbCustodyReconciler, type DbCustodyLimits, type DbCustodyReconciler } from '../../src/recon/db-custody/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { silentLogger } from '../support/log.js';
import { createLogger } from '../../src/observability/logger.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';
import { removeTopology } from '../../src/nats/topology.js';
export { until };

export interface WithdrawalEvent {
  subject: string;
  asset: string;
  action: 'paused' | 'resumed';
  breakId: string;
  delta: string | null;
}

export interface CustodyHarness {
  sim: BitgoSimulator;
  pool: Pool;
  nc: NatsConnection;
  jsm: JetStreamManager;
  names: NatsNames;
  settings: Settings;
  reconciler: DbCustodyReconciler;
  alerts: BreakAlert[];
  resolved: BreakAlert[];
  withdrawals: WithdrawalEvent[];
  /** One balanced journal: each entry [userId, currency, amount (decimal string, signed)]. */
  journal(referenceType: string, referenceId: string, entries: Array<[string, string, string]>): Promise<void>;
  /** A user's deposit credited: user +amount, house:custody −amount. */
  deposit(userId: string, currency: string, amount: string, referenceId?: string): Promise<void>;
  /** Stops the reconciler, runs `whileStopped`, starts a new one on the same database and NATS. */
  restart(whileStopped?: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  wallets: SimulatedWalletInit[];
  /** BITGO_WALLETS, e.g. `BTC=tbtc:w1,ETH=hteth:w3`. */
  walletMap: string;
  tolerances?: string;
  /** Ledger rows written before the reconciler starts (seeded by its aggregate, not the follower). */
  before?(h: Pick<CustodyHarness, 'journal' | 'deposit'>): Promise<void>;
  limits?: Partial<DbCustodyLimits>;
}

export const fastLimits: Partial<DbCustodyLimits> = {
  requestTimeoutMs: 300,
  retryAttemptsMax: 2,
  retryBaseDelayMs: 10,
  retryMaxDelayMs: 20,
  backoffMaxMs: 400,
};

export async function startCustodyHarness(options: HarnessOptions): Promise<CustodyHarness> {
  // The SDK takes seconds to load: in parallel with creating and migrating the database.
  const [database]: [TestDatabase, unknown] = await Promise.all([createTestDatabase(), import('@bitgo/sdk-api')]);
  const pool = createPool(database.url, 4);
  const nc = await connect({ servers: sharedNatsUrl() });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const accessToken = randomV2AccessToken();
  const sim = await BitgoSimulator.start({ accessToken, wallets: options.wallets });
  const settings = loadSettings({}, {
    NAMESPACE: testNamespace(),
    BITGO_ROOT_URI: sim.url,
    BITGO_ACCESS_TOKEN: accessToken,
    BITGO_WALLETS: options.walletMap,
    CUSTODY_TOLERANCES: options.tolerances ?? '',
    BITGO_POLL_MS: '100',
    RECON_GRACE_MS: '400',
    LOG_LEVEL: 'silent',
  });
  const names = natsNames(settings.NAMESPACE);

  const journal: CustodyHarness['journal'] = async (referenceType, referenceId, entries) => {
    const journalId = randomUUID();
    await pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::numeric[], $5::text[], $6::text[])`,
      [journalId, entries.map((e) => e[0]), entries.map((e) => e[1]), entries.map((e) => e[2]), entries.map(() => referenceType), entries.map(() => referenceId)],
    );
  };
  const deposit: CustodyHarness['deposit'] = (userId, currency, amount, referenceId = randomUUID()) =>
    journal('deposit', referenceId, [[userId, currency, amount], ['house:custody', currency, `-${amount}`]]);
  await options.before?.({ journal, deposit });

  const alerts: BreakAlert[] = [];
  const resolved: BreakAlert[] = [];
  const withdrawals: WithdrawalEvent[] = [];
  const subscriptions: Subscription[] = [
    nc.subscribe(names.reconAlertSubject('db_custody'), { callback: (_e, m) => void alerts.push(m.json<BreakAlert>()) }),
    nc.subscribe(names.reconResolvedSubject('db_custody'), { callback: (_e, m) => void resolved.push(m.json<BreakAlert>()) }),
    nc.subscribe(names.subject('custody.withdrawals.>'), { callback: (_e, m) => void withdrawals.push({ subject: m.subject, ...m.json<Omit<WithdrawalEvent, 'subject'>>() }) }),
  ];
  await nc.flush();

  const start = () => startDbCustodyReconciler({
    nc, js, jsm, pool, names, log: process.env.CUSTODY_LOG ? createLogger('custody', 'info') : silentLogger(), settings, limits: { ...fastLimits, ...options.limits },
  });

  const harness: CustodyHarness = {
    sim, pool, nc, jsm, names, settings, reconciler: await start(), alerts, resolved, withdrawals, journal, deposit,
    async restart(whileStopped) {
      await harness.reconciler.stop();
      await whileStopped?.();
      harness.reconciler = await start();
    },
    async close() {
      await harness.reconciler.stop();
      for (const sub of subscriptions) sub.unsubscribe();
      await sim.stop();
      await removeTopology(nc, names);
      await nc.close();
      await pool.end();
      await database.drop();
    },
  };
  return harness;
}


export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Checks written so far (each poll round writes one). */
export async function checkCount(pool: Pool): Promise<number> {
  const result = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM recon_checks WHERE boundary = 'db_custody'");
  return result.rows[0]?.n ?? 0;
}

/** Waits for `rounds` more comparison rounds: whatever was going to be raised by then has been. */
export async function roundsPass(pool: Pool, rounds: number): Promise<void> {
  const start = await checkCount(pool);
  await until(`${rounds} more checks`, async () => (await checkCount(pool)) >= start + rounds);
}

export const sat = (btc: number): bigint => BigInt(Math.round(btc * 1e8));
export const wei = (eth: string): bigint => {
  const [whole, fraction = ''] = eth.split('.');
  return BigInt(`${whole}${fraction.padEnd(18, '0')}`);
};

/**
 * The me_db reconciler beside the exchange simulator on the shared NATS (own namespace) and a
 * fresh database, with the checks the cold-seed and catch-up tests share: the watermarks at the
 * end of both sides, and the saved state and seal digest against the full scan.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { expect } from 'vitest';
import { startExchangeSimulator, type ExchangeSimulator } from '../../src/adapters/exchange-simulator/index.js';
import { signedDecimalToMinor } from '../../src/config/decimal.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { ensureAccountTopology } from '../../src/nats/topology.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { CutDigest } from '../../src/recon/cut-digest.js';
import { defaultMeDbLimits, MeDbReconciler, type MeDbLimits } from '../../src/recon/me-db/reconciler.js';
import { leafValue } from '../../src/recon/me-db/seal-record.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';

export class MeDbSimHarness {
  /** Every alert published on recon.alert.me_db since open (clear it with `alerts.length = 0`). */
  readonly alerts: BreakAlert[] = [];
  private simulator: ExchangeSimulator | null = null;
  private readonly sub: Subscription;

  private constructor(
    readonly nc: NatsConnection,
    readonly pool: Pool,
    readonly names: NatsNames,
    private readonly database: TestDatabase,
  ) {
    this.sub = nc.subscribe(names.reconAlertSubject('me_db'), { callback: (_e, msg) => void this.alerts.push(msg.json<BreakAlert>()) });
  }

  static async open(): Promise<MeDbSimHarness> {
    const database = await createTestDatabase();
    const names = natsNames(testNamespace());
    const nc = await connect({ servers: sharedNatsUrl() });
    const pool = createPool(database.url, 8);
    await ensureAccountTopology(nc, names);
    return new MeDbSimHarness(nc, pool, names, database);
  }

  async startSimulator(options: { seed: number; rateEventsPerSec: number; users: number; currencies: string[] }): Promise<ExchangeSimulator> {
    this.simulator = await startExchangeSimulator({ nc: this.nc, pool: this.pool, names: this.names, log: silentLogger(), ...options });
    return this.simulator;
  }

  get sim(): ExchangeSimulator {
    if (!this.simulator) throw new Error('no simulator started');
    return this.simulator;
  }

  async startReconciler(limits: Partial<MeDbLimits> = {}): Promise<MeDbReconciler> {
    const reconciler = new MeDbReconciler({
      nc: this.nc, js: jetstream(this.nc), jsm: await jetstreamManager(this.nc), pool: this.pool, names: this.names, log: silentLogger(),
      limits: { ...defaultMeDbLimits, graceMs: 1_000, ...limits },
    });
    await reconciler.start();
    return reconciler;
  }

  /** The last (tx_id, id) in the table: where a follower that has read everything stands. */
  async ledgerEnd(): Promise<{ txId: string; id: string }> {
    const r = await this.pool.query<{ tx_id: string; id: string }>('SELECT e.tx_id::text AS tx_id, e.id::text AS id FROM ledger_entries e ORDER BY e.tx_id DESC, e.id DESC LIMIT 1');
    return { txId: r.rows[0]?.tx_id ?? '0', id: r.rows[0]?.id ?? '0' };
  }

  async ledgerRowCount(): Promise<number> {
    return Number((await this.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM ledger_entries')).rows[0]?.n);
  }

  /** Rows past a watermark (tx_id, id as text): what a follower from there reads, or a catch-up sums. */
  async ledgerRowsPast(mark: { txId: string; id: string }): Promise<number> {
    return Number((await this.pool.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM ledger_entries e WHERE (e.tx_id, e.id) > ($1::text::xid8, $2::bigint)', [mark.txId, mark.id])).rows[0]?.n);
  }

  async untilCaughtUp(reconciler: MeDbReconciler, lastSeq: number): Promise<void> {
    const end = await this.ledgerEnd();
    // Long: the full suite on a slow 2-core machine starves this process of CPU; the catch-up's
    // speed is the bench's to measure, these tests judge what it arrives at.
    await until('the reconciler at the end of both sides', () => {
      const w = reconciler.status().watermarks;
      return w?.engineSeq === lastSeq && w.ledgerTxId === end.txId && w.ledgerId === end.id;
    }, 90_000).catch((error: unknown) => {
      // Where it got to, and what it counted, beside where it had to get.
      const status = reconciler.status();
      throw new Error(`${(error as Error).message}: wanted engine seq ${lastSeq}, ledger ${end.txId}:${end.id}; ` +
        `at ${JSON.stringify(status.watermarks)}, counters ${JSON.stringify(status.counters)}`);
    });
  }

  /**
   * The saved state against the full scan (Σ ledger per key, the engine's balances, Σ per
   * currency): exactly equal, key by key.
   */
  async expectSavedStateEqualsFullScan(): Promise<void> {
    const ledger = await this.ledgerTotalsByKey();
    const engine = new Map(this.sim.registry().map((r) => [`${r.userId}/${r.currency}`, r.totalMinor]));
    const saved = await this.pool.query<{ user_id: string; currency: string; engine_total: string; ledger_total: string }>(
      'SELECT user_id, currency, engine_total::text, ledger_total::text FROM recon_me_db_positions');
    expect(saved.rows.length).toBe(engine.size);
    for (const p of saved.rows) {
      const key = `${p.user_id}/${p.currency}`;
      expect(signedDecimalToMinor(p.ledger_total, 18)).toBe(ledger.get(key) ?? 0n);
      expect(signedDecimalToMinor(p.engine_total, 18)).toBe(engine.get(key));
    }
    const currencies = await this.pool.query<{ currency: string; scan: string; saved: string }>(
      `SELECT c.currency, coalesce(s.total, 0)::text AS scan, c.total::text AS saved
         FROM recon_ledger_currency_totals c LEFT JOIN (SELECT currency, sum(amount) AS total FROM ledger_entries GROUP BY 1) s USING (currency)`);
    expect(currencies.rows.length).toBeGreaterThan(0);
    for (const c of currencies.rows) expect(signedDecimalToMinor(c.saved, 18)).toBe(signedDecimalToMinor(c.scan, 18));
  }

  /** The seal digest of every position at the full scan's totals (ADR 0009): what a book holding all of them seals. */
  async fullScanDigest(): Promise<string> {
    const ledger = await this.ledgerTotalsByKey();
    const digest = new CutDigest();
    for (const r of this.sim.registry()) {
      const key = `${r.userId}/${r.currency}`;
      digest.replace(key, null, leafValue(r.totalMinor, ledger.get(key) ?? 0n));
    }
    return digest.hex();
  }

  async close(): Promise<void> {
    this.sub.unsubscribe();
    await this.simulator?.stop();
    await deleteNamespaceStreams(this.nc, this.names);
    await this.nc.close();
    await this.pool.end();
    await this.database.drop();
  }

  /** Σ ledger per user key (house accounts left out), as the full scan reads it. */
  private async ledgerTotalsByKey(): Promise<Map<string, bigint>> {
    const sums = await this.pool.query<{ user_id: string; currency: string; total: string }>(
      "SELECT user_id, currency, sum(amount)::text AS total FROM ledger_entries WHERE user_id NOT LIKE 'house:%' GROUP BY 1, 2");
    return new Map(sums.rows.map((r) => [`${r.user_id}/${r.currency}`, signedDecimalToMinor(r.total, 18)]));
  }
}

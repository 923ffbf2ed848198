/**
 * Phase 2: break-detection latency. The exchange simulator runs at a steady background rate
 * with a me_db reconciler following it (a small grace window); faults are injected one at a
 * time on distinct (user, currency) keys, alternately
 * - an engine-only change (`sim.faults.engineOnlyChange`: a balance event with no journal), and
 * - a raw ledger insert (a balanced journal user/house:custody written straight into
 *   ledger_entries, with no engine event),
 * and each is timed from the faulty write (just before the call / the INSERT is sent) to the
 * arrival of its alert on recon.alert.me_db at a separate NATS connection. Nothing is
 * subtracted: the raw figure includes the grace window, the tick and every hop.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { startExchangeSimulator } from '../src/adapters/exchange-simulator/index.js';
import { natsNames } from '../src/nats/names.js';
import { ensureAccountTopology } from '../src/nats/topology.js';
import type { Logger } from '../src/observability/logger.js';
import type { BreakAlert } from '../src/recon/breaks/break.js';
import { defaultMeDbLimits, MeDbReconciler } from '../src/recon/me-db/reconciler.js';
import { benchNamespace, createBenchDatabase, deleteNamespaceStreams, nowMs, once, percentile, sleep, until, type Cleanup } from './support.js';

export interface LatencyOptions {
  faults: number;
  intervalMs: number;
  graceMs: number;
  rateEventsPerSec: number;
  users: number;
  currencies: readonly string[];
}

export interface FaultSample {
  kind: 'engine_only' | 'ledger_only';
  userId: string;
  currency: string;
  writtenAtMs: number;
  alertedAtMs: number | null;
}

export interface LatencyResult {
  samples: FaultSample[];
  /** Alerts for keys no fault touched (or of another kind): false alarms under background load. */
  unexpectedAlerts: BreakAlert[];
  backgroundEventsPerSec: number;
  backgroundLedgerRows: number;
  graceMs: number;
  tickMs: number;
  runMs: number;
  /** Sampled every 100 ms during the faults: engine events published but not yet applied by the reconciler. */
  engineLagEvents: { p50: number; p99: number; max: number };
  /** … and ledger rows committed but not yet read (the batch in flight included). */
  ledgerLagRows: { p50: number; p99: number; max: number };
}

const keyOf = (userId: string, currency: string): string => `${userId}/${currency}`;

export async function runLatency(ctx: { serverUrl: string; natsUrl: string; nc: NatsConnection; log: Logger; cleanup: Cleanup; say: (line: string) => void }, opts: LatencyOptions): Promise<LatencyResult> {
  const { nc, log, cleanup, say } = ctx;
  if (opts.faults > opts.users) throw new RangeError(`latency: ${opts.faults} faults need as many users (one key each), got ${opts.users}`);
  const db = await createBenchDatabase(ctx.serverUrl, 'lat', log);
  cleanup.add(`drop ${db.name}`, () => db.drop());
  const names = natsNames(benchNamespace());
  cleanup.add(`streams of ${names.namespace}`, () => deleteNamespaceStreams(nc, names));
  await ensureAccountTopology(nc, names);
  const pool = db.pool;

  const sim = await startExchangeSimulator({
    nc, pool, names, seed: 2, rateEventsPerSec: opts.rateEventsPerSec, users: opts.users, currencies: opts.currencies, log, resumeFromLedger: false,
  });
  const stopSim = once(() => sim.stop());
  cleanup.add('latency simulator', stopSim);
  const reconciler = new MeDbReconciler({ nc, js: jetstream(nc), jsm: await jetstreamManager(nc), pool, names, log, limits: { ...defaultMeDbLimits, graceMs: opts.graceMs } });
  const stopReconciler = once(() => reconciler.stop());
  cleanup.add('latency reconciler', stopReconciler);
  await reconciler.start();

  // The pager's view: its own connection.
  const pager = await connect({ servers: ctx.natsUrl });
  cleanup.add('latency pager connection', () => pager.close().catch(() => undefined));
  const alerts: Array<{ alert: BreakAlert; atMs: number }> = [];
  const sub = pager.subscribe(names.reconAlertSubject('me_db'), { callback: (_e, msg) => void alerts.push({ atMs: nowMs(), alert: msg.json<BreakAlert>() }) });
  await pager.flush();

  say(`latency: warming up at ${opts.rateEventsPerSec} events/s`);
  await sleep(2_000);
  const statsBefore = sim.stats();
  const rowsBefore = sim.stats().ledger.rowsWritten;
  const t0 = performance.now();

  say(`latency: injecting ${opts.faults} faults, one every ${opts.intervalMs} ms (grace ${opts.graceMs} ms)`);
  const samples: FaultSample[] = [];
  const byKey = new Map<string, FaultSample>();
  // How far behind its inputs the reconciler runs while the faults go in (its own lag, not the grace).
  let faultRows = 0;
  const engineLag: number[] = [];
  const ledgerLag: number[] = [];
  const lagSampler = setInterval(() => {
    const s = reconciler.status();
    engineLag.push(sim.lastSeq() - Number(s.watermarks?.engineSeq ?? 0));
    ledgerLag.push(sim.stats().ledger.rowsWritten + faultRows - (s.counters?.ledgerRowsReadSinceStart ?? 0));
  }, 100);
  for (let i = 0; i < opts.faults; i++) {
    const userId = sim.userIds[i] as string;
    const currency = opts.currencies[i % opts.currencies.length] as string;
    const kind: FaultSample['kind'] = i % 2 === 0 ? 'engine_only' : 'ledger_only';
    const sample: FaultSample = { kind, userId, currency, writtenAtMs: nowMs(), alertedAtMs: null };
    if (kind === 'engine_only') {
      sim.faults.engineOnlyChange({ userId, currency, deltaMinor: 10n ** 15n });
    } else {
      await pool.query(
        `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
         VALUES ($1, $2, $3, 0.001, 'admin_adjustment', $1), ($1, 'house:custody', $3, -0.001, 'admin_adjustment', $1)`,
        [`bench-fault-${i}`, userId, currency],
      );
      faultRows += 2;
    }
    samples.push(sample);
    byKey.set(keyOf(userId, currency), sample);
    await sleep(opts.intervalMs);
  }

  const matched = (): number => {
    for (const { alert, atMs } of alerts) {
      const sample = alert.kind === 'balance' && alert.userId ? byKey.get(keyOf(alert.userId, alert.currency ?? '')) : undefined;
      if (sample && sample.alertedAtMs === null && atMs >= sample.writtenAtMs) sample.alertedAtMs = atMs;
    }
    return samples.filter((s) => s.alertedAtMs !== null).length;
  };
  await until('an alert for every fault', () => matched() === samples.length, 30_000, 20).catch(() => undefined);
  // A late false alarm would still count: give it one more grace window and tick.
  await sleep(opts.graceMs + defaultMeDbLimits.tickMs * 2);
  matched();
  const runMs = performance.now() - t0;
  clearInterval(lagSampler);
  const statsAfter = sim.stats();
  sub.unsubscribe();

  const unexpectedAlerts = alerts
    .filter(({ alert }) => !(alert.kind === 'balance' && alert.userId && byKey.has(keyOf(alert.userId, alert.currency ?? ''))))
    .map(({ alert }) => alert);
  await stopReconciler();
  await stopSim();
  await pager.close();
  await deleteNamespaceStreams(nc, names);
  await db.drop();
  return {
    samples,
    unexpectedAlerts,
    backgroundEventsPerSec: ((statsAfter.engineEventsApplied - statsBefore.engineEventsApplied) * 1000) / runMs,
    backgroundLedgerRows: statsAfter.ledger.rowsWritten - rowsBefore,
    graceMs: opts.graceMs,
    tickMs: defaultMeDbLimits.tickMs,
    runMs,
    engineLagEvents: { p50: percentile(engineLag, 50), p99: percentile(engineLag, 99), max: Math.max(0, ...engineLag) },
    ledgerLagRows: { p50: percentile(ledgerLag, 50), p99: percentile(ledgerLag, 99), max: Math.max(0, ...ledgerLag) },
  };
}

/**
 * The me_db reconciler alone, as the memory suite runs it: a child process that starts a
 * MeDbReconciler (NATS_URL, DATABASE_URL, NAMESPACE, RECON_ME_DB_POSITIONS_MAX from its
 * environment) and answers on its IPC channel `{ measure: true }` with its memory after a full
 * GC (started with --expose-gc) and the reconciler's status counters. Bench-only.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { createPool } from '../src/db/pool.js';
import { natsNames } from '../src/nats/names.js';
import { createLogger } from '../src/observability/logger.js';
import { defaultMeDbLimits, MeDbReconciler } from '../src/recon/me-db/reconciler.js';

export interface MeDbChildMemory {
  rss: number;
  heapUsed: number;
  engineSeq: number;
  ledgerRowsRead: number;
  positionsKnown: number;
  positionsInMemory: number;
  openBreaks: number;
}

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`me-db-child: ${name} must be set`);
  return v;
};

const log = createLogger('bench-me-db', process.env.LOG_LEVEL === 'silent' ? 'silent' : 'warn');
const nc = await connect({ servers: env('NATS_URL') });
const pool = createPool(env('DATABASE_URL'), 4);
const names = natsNames(env('NAMESPACE'));
const reconciler = new MeDbReconciler({
  nc, js: jetstream(nc), jsm: await jetstreamManager(nc), pool, names, log,
  limits: { ...defaultMeDbLimits, graceMs: 5_000, snapshotTimeoutMs: 1, positionsInMemoryMax: Number(env('RECON_ME_DB_POSITIONS_MAX')) },
});
await reconciler.start();

const collect = (globalThis as { gc?: () => void }).gc;
process.on('message', (message: unknown) => {
  if ((message as { measure?: boolean } | null)?.measure !== true) return;
  collect?.();
  collect?.();
  const m = process.memoryUsage();
  const status = reconciler.status();
  const reply: MeDbChildMemory = {
    rss: m.rss,
    heapUsed: m.heapUsed,
    engineSeq: Number(status.watermarks?.engineSeq ?? -1),
    ledgerRowsRead: status.counters?.ledgerRowsRead ?? -1,
    positionsKnown: status.counters?.positionsKnown ?? -1,
    positionsInMemory: status.counters?.positionsInMemory ?? -1,
    openBreaks: status.openBreaks,
  };
  process.send?.(reply);
});
process.on('SIGTERM', () => void reconciler.stop().finally(async () => {
  await nc.close();
  await pool.end();
  process.exit(0);
}));
process.send?.({ ready: true });

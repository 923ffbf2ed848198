/**
 * The engine as the memory and transitions suites run it: a child process that starts the engine
 * exactly as `npm start` does with NATS_URL and DATABASE_URL set (migrate, then startEngine), and
 * answers on its IPC channel: `{ measure: true }` with its memory after a full GC (when started
 * with --expose-gc), `{ stats: true }` with its NATS messages sent, partitions owned and CPU time used.
 * Bench-only: the engine itself has no such hook.
 */
import { loadSettings } from '../src/config/settings.js';
import { migrate } from '../src/db/migrate.js';
import { startEngine } from '../src/engine/engine.js';
import { createLogger } from '../src/observability/logger.js';

export interface ChildMemory { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number }
export interface ChildStats {
  natsMessagesOut: number;
  partitionsOwned: number;
  /** CPU time the process has used (user + system), ms. */
  cpuMs: number;
  /** Time its event loop has spent running callbacks since start (not waiting for I/O), ms. */
  loopActiveMs: number;
}

const settings = loadSettings();
const log = createLogger('bench-engine', settings.LOG_LEVEL);
if (!settings.NATS_URL || !settings.DATABASE_URL) throw new Error('engine-child: NATS_URL and DATABASE_URL must be set');
await migrate(settings.DATABASE_URL, log);
const engine = await startEngine({ settings, natsUrl: settings.NATS_URL, databaseUrl: settings.DATABASE_URL, log, onFatal: () => process.exit(1) });

const collect = (globalThis as { gc?: () => void }).gc;
process.on('message', (message: unknown) => {
  const ask = message as { measure?: boolean; stats?: boolean } | null;
  if (ask?.measure === true) {
    // Twice: the first pass may leave weakly held or finalisable objects for the second.
    collect?.();
    collect?.();
    const m = process.memoryUsage();
    const reply: ChildMemory = { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
    process.send?.(reply);
  } else if (ask?.stats === true) {
    const cpu = process.cpuUsage();
    const reply: ChildStats = { natsMessagesOut: engine.nc.stats().outMsgs, partitionsOwned: engine.ownedPartitions().length, cpuMs: (cpu.user + cpu.system) / 1000, loopActiveMs: performance.eventLoopUtilization().active };
    process.send?.(reply);
  }
});
// A clean exit, so `node --cpu-prof` writes its profile.
process.on('SIGTERM', () => void engine.stop().finally(() => process.exit(0)));
process.send?.({ ready: true });

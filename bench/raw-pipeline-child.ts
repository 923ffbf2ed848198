/**
 * The raw pipeline (bench/raw-pipeline.ts) in a process of its own, as the engine runs in its own
 * (bench/engine-child.ts): same client options, same pool size. Answers `{ stats: true }` on its
 * IPC channel with its NATS messages sent and CPU time used.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { limits } from '../src/config/limits.js';
import { createPool } from '../src/db/pool.js';
import { natsNames } from '../src/nats/names.js';
import { installQuietRequestSettle } from '../src/nats/quiet-request-settle.js';
import type { ChildStats } from './engine-child.js';
import { startRawPipeline } from './raw-pipeline.js';

const natsUrl = process.env.NATS_URL;
const databaseUrl = process.env.DATABASE_URL;
if (!natsUrl || !databaseUrl) throw new Error('raw-pipeline-child: NATS_URL and DATABASE_URL must be set');
const partitions = Number(process.env.COMMAND_PARTITIONS ?? '16');
const names = natsNames(process.env.NAMESPACE ?? '');
// The engine's client settings: no async traces, and the quiet request settle (ADR 0032).
installQuietRequestSettle();
const nc = await connect({ servers: natsUrl, name: 'bench-raw-pipeline', noAsyncTraces: true });
const pool = createPool(databaseUrl, limits.poolConnectionsMax);
const pipeline = await startRawPipeline({
  nc, js: jetstream(nc), jsm: await jetstreamManager(nc), kv: await new Kvm(nc).open(names.accountsBucket), pool, names, partitions, batchMax: limits.intakeBatchMax,
});
process.on('message', (message: unknown) => {
  if ((message as { stats?: boolean } | null)?.stats !== true) return;
  const cpu = process.cpuUsage();
  const reply: ChildStats = { natsMessagesOut: nc.stats().outMsgs, partitionsOwned: partitions, cpuMs: (cpu.user + cpu.system) / 1000, loopActiveMs: performance.eventLoopUtilization().active };
  process.send?.(reply);
});
process.on('SIGTERM', () => void (async () => {
  await pipeline.stop();
  await nc.close();
  await pool.end();
  process.exit(0);
})());
process.send?.({ ready: true });

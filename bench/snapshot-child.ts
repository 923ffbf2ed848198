/**
 * The matching engine's snapshot service in a process of its own, as it runs at an exchange: a
 * child that answers `me.snapshot` (the simulator's serveSnapshots, so the same protocol and
 * chunking) from the engine state it is handed over IPC. The me_db throughput phase uses it once
 * the backlog is written, so that serving a snapshot (building and encoding the chunks) is not
 * charged to the reconciler's thread, nor to the full scan's. Bench-only.
 *
 * IPC: `{ state }` (bench/engine-state.ts) → `{ serving: true, rows }` once subscribed; SIGTERM
 * stops it.
 */
import { connect } from '@nats-io/transport-node';
import { serveSnapshots } from '../src/adapters/exchange-simulator/snapshot-server.js';
import { natsNames } from '../src/nats/names.js';
import { createLogger } from '../src/observability/logger.js';
import { engineStateMessage } from './engine-state.js';

const natsUrl = process.env.NATS_URL;
const namespace = process.env.NAMESPACE;
if (!natsUrl || !namespace) throw new Error('snapshot-child: NATS_URL and NAMESPACE must be set');

const log = createLogger('bench-snapshot', 'warn');
const nc = await connect({ servers: natsUrl });
const names = natsNames(namespace);

process.on('message', (message: unknown) => {
  const parsed = engineStateMessage.safeParse(message);
  if (!parsed.success) return;
  const { asOfSeq, rows } = parsed.data;
  // Each request gets its own copy, as the simulated engine's snapshot() does.
  serveSnapshots(nc, names, () => ({ asOfSeq, rows: rows.slice() }), log);
  void nc.flush().then(() => process.send?.({ serving: true, rows: rows.length }));
});
process.on('SIGTERM', () => void nc.drain().finally(() => process.exit(0)));
process.send?.({ ready: true });

import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import type { Logger } from '../observability/logger.js';
import { canConnect } from './nats-server-process.js';

export const localNatsUrl = 'nats://127.0.0.1:4222';
export const localDatabaseUrl = 'postgres://postgres@127.0.0.1:5432/postgres';
const probeTimeoutMs = 2_000;

/**
 * For the tests and the bench: URLs given explicitly win; else the machine's own NATS and
 * PostgreSQL on their default ports when they answer (and are usable); else undefined, for
 * `resolveServices` to start embedded ones. `probeLocal: false` skips the probe.
 */
export async function findLocalServices(options: { natsUrl?: string; databaseUrl?: string; probeLocal: boolean; log: Logger }): Promise<{ natsUrl?: string; databaseUrl?: string }> {
  const { probeLocal, log } = options;
  const [natsUrl, databaseUrl] = await Promise.all([
    options.natsUrl || (probeLocal ? localNatsWithJetStream(log).then((ok) => (ok ? localNatsUrl : undefined)) : undefined),
    options.databaseUrl || (probeLocal ? localPostgres(log).then((ok) => (ok ? localDatabaseUrl : undefined)) : undefined),
  ]);
  return { ...(natsUrl ? { natsUrl } : {}), ...(databaseUrl ? { databaseUrl } : {}) };
}

/** A bare TCP answer is not enough: JetStream must be enabled. */
async function localNatsWithJetStream(log: Logger): Promise<boolean> {
  if (!(await canConnect(4222))) return false;
  try {
    const nc = await connect({ servers: localNatsUrl, timeout: probeTimeoutMs, reconnect: false });
    try {
      await jetstreamManager(nc, { timeout: probeTimeoutMs });
      return true;
    } finally {
      await nc.close();
    }
  } catch (err) {
    log.warn({ url: localNatsUrl, err: (err as Error).message }, 'local NATS answers but is unusable (JetStream off?); starting an embedded one');
    return false;
  }
}

/** Trust auth as user postgres, the way a dev box or `docker compose up` runs it. */
async function localPostgres(log: Logger): Promise<boolean> {
  if (!(await canConnect(5432))) return false;
  const client = new pg.Client({ connectionString: localDatabaseUrl, connectionTimeoutMillis: probeTimeoutMs });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch (err) {
    log.warn({ url: localDatabaseUrl, err: (err as Error).message }, 'local PostgreSQL answers but refuses us; starting an embedded one');
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

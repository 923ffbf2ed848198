/**
 * Finds the NATS (with JetStream) and PostgreSQL the tests run against, once
 * per `vitest run`: TEST_NATS_URL / TEST_DATABASE_URL if set, else a local
 * server on the default port if it answers (and works), else private embedded
 * ones (always, with TEST_SERVICES=embedded).
 * Test files read the URLs with `inject('natsUrl')` / `inject('databaseUrl')`.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { canConnect } from '../../src/embedded/nats-server-process.js';
import { resolveServices } from '../../src/embedded/services.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';

declare module 'vitest' {
  export interface ProvidedContext {
    natsUrl: string;
    databaseUrl: string;
  }
}

const LOCAL_NATS_URL = 'nats://127.0.0.1:4222';
const LOCAL_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const PROBE_TIMEOUT_MS = 2_000;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = createLogger('test-services', process.env.LOG_LEVEL ?? 'info');
  // TEST_SERVICES=embedded skips the local probe: proves the embedded path on a dev box.
  const probeLocal = process.env.TEST_SERVICES !== 'embedded';
  const [natsUrl, databaseUrl] = await Promise.all([
    process.env.TEST_NATS_URL || (probeLocal ? localNatsWithJetStream(log).then((ok) => (ok ? LOCAL_NATS_URL : undefined)) : undefined),
    process.env.TEST_DATABASE_URL || (probeLocal ? localPostgres(log).then((ok) => (ok ? LOCAL_DATABASE_URL : undefined)) : undefined),
  ]);
  const services = await resolveServices({ natsUrl, databaseUrl, log });
  log.info({ event: 'test.services', natsUrl: services.natsUrl, databaseUrl: services.databaseUrl, embedded: services.embedded }, 'test services');
  project.provide('natsUrl', services.natsUrl);
  project.provide('databaseUrl', services.databaseUrl);
  return () => services.stop();
}

/** A bare TCP answer is not enough: the tests need JetStream enabled. */
async function localNatsWithJetStream(log: Logger): Promise<boolean> {
  if (!(await canConnect(4222))) return false;
  try {
    const nc = await connect({ servers: LOCAL_NATS_URL, timeout: PROBE_TIMEOUT_MS, reconnect: false });
    try {
      await jetstreamManager(nc, { timeout: PROBE_TIMEOUT_MS });
      return true;
    } finally {
      await nc.close();
    }
  } catch (err) {
    log.warn({ url: LOCAL_NATS_URL, err: (err as Error).message }, 'local NATS answers but is unusable (JetStream off?); starting an embedded one');
    return false;
  }
}

/** Trust auth as user postgres, the way a dev box or `docker compose up` runs it. */
async function localPostgres(log: Logger): Promise<boolean> {
  if (!(await canConnect(5432))) return false;
  const client = new pg.Client({ connectionString: LOCAL_DATABASE_URL, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch (err) {
    log.warn({ url: LOCAL_DATABASE_URL, err: (err as Error).message }, 'local PostgreSQL answers but refuses us; starting an embedded one');
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

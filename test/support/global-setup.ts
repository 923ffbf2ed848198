/**
 * Finds the NATS (with JetStream) and PostgreSQL the tests run against, once
 * per `vitest run`: TEST_NATS_URL / TEST_DATABASE_URL if set, else a local
 * server on the default port if it answers (and works), else private embedded
 * ones (always, with TEST_SERVICES=embedded).
 * Test files read the URLs with `inject('natsUrl')` / `inject('databaseUrl')`.
 */
import type { TestProject } from 'vitest/node';
import { findLocalServices } from '../../src/embedded/local-services.js';
import { resolveServices } from '../../src/embedded/services.js';
import { createLogger } from '../../src/observability/logger.js';

declare module 'vitest' {
  export interface ProvidedContext {
    natsUrl: string;
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = createLogger('test-services', process.env.LOG_LEVEL ?? 'info');
  // TEST_SERVICES=embedded skips the local probe: proves the embedded path on a dev box.
  const found = await findLocalServices({
    ...(process.env.TEST_NATS_URL ? { natsUrl: process.env.TEST_NATS_URL } : {}),
    ...(process.env.TEST_DATABASE_URL ? { databaseUrl: process.env.TEST_DATABASE_URL } : {}),
    probeLocal: process.env.TEST_SERVICES !== 'embedded',
    log,
  });
  const services = await resolveServices({ ...found, log });
  log.info({ event: 'test.services', natsUrl: services.natsUrl, databaseUrl: services.databaseUrl, embedded: services.embedded }, 'test services');
  project.provide('natsUrl', services.natsUrl);
  project.provide('databaseUrl', services.databaseUrl);
  return () => services.stop();
}

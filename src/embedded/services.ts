/**
 * The two services the engine needs: the ones the caller names, or private
 * embedded ones for whichever is missing (dev mode, tests).
 */
import assert from 'node:assert/strict';
import type { Logger } from '../observability/logger.js';
import { defaultCacheDir, locateNatsServer } from './nats-server-binary.js';
import { startNatsServer } from './nats-server-process.js';
import { startEmbeddedPostgres } from './postgres.js';

export interface ResolveServicesOptions {
  /** Used as given when set; otherwise a private nats-server -js is started. */
  natsUrl?: string;
  /** Used as given when set; otherwise a private PostgreSQL is started. */
  databaseUrl?: string;
  log: Logger;
}

export interface ResolvedServices {
  natsUrl: string;
  databaseUrl: string;
  /** Which of the two we started (and stop() will stop). */
  embedded: { nats: boolean; postgres: boolean };
  /** Stops what was started here; given services are left alone. Idempotent. */
  stop(): Promise<void>;
}

interface Started {
  url: string;
  stop(): Promise<void>;
}

export async function resolveServices(opts: ResolveServicesOptions): Promise<ResolvedServices> {
  const { log } = opts;
  // Both start in parallel: each takes a few hundred ms and neither needs the other.
  const [nats, postgres] = await Promise.allSettled([
    opts.natsUrl ? Promise.resolve(undefined) : startEmbeddedNats(log),
    opts.databaseUrl ? Promise.resolve(undefined) : startEmbeddedPostgresLogged(log),
  ]);
  if (nats.status === 'rejected' || postgres.status === 'rejected') {
    // Don't leave the one that did start running behind a failed resolve.
    await Promise.allSettled([nats, postgres].map((r) => (r.status === 'fulfilled' && r.value ? r.value.stop() : undefined)));
    throw nats.status === 'rejected' ? nats.reason : (postgres as PromiseRejectedResult).reason;
  }

  const startedNats = nats.value;
  const startedPostgres = postgres.value;
  const natsUrl = startedNats?.url ?? opts.natsUrl;
  const databaseUrl = startedPostgres?.url ?? opts.databaseUrl;
  assert(natsUrl && databaseUrl, 'resolveServices: a service is neither given nor started');
  let stopping: Promise<void> | undefined;
  return {
    natsUrl,
    databaseUrl,
    embedded: { nats: startedNats !== undefined, postgres: startedPostgres !== undefined },
    stop() {
      stopping ??= (async () => {
        const results = await Promise.allSettled([startedNats?.stop(), startedPostgres?.stop()]);
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      })();
      return stopping;
    },
  };
}

async function startEmbeddedNats(log: Logger): Promise<Started> {
  const binary = await locateNatsServer({ cacheDir: defaultCacheDir(), log });
  const server = await startNatsServer({ binary, log });
  log.info({ event: 'embedded.nats.started', url: server.url, storeDir: server.storeDir, pid: server.pid }, 'embedded nats-server started');
  return {
    url: server.url,
    stop: async () => {
      await server.stop();
      log.info({ event: 'embedded.nats.stopped', url: server.url }, 'embedded nats-server stopped');
    },
  };
}

async function startEmbeddedPostgresLogged(log: Logger): Promise<Started> {
  const t0 = Date.now();
  const server = await startEmbeddedPostgres({ log });
  log.info({ event: 'embedded.postgres.started', url: server.url, dataDir: server.dataDir, pid: server.pid, ms: Date.now() - t0 }, 'embedded postgres started');
  return {
    url: server.url,
    stop: async () => {
      await server.stop();
      log.info({ event: 'embedded.postgres.stopped', url: server.url }, 'embedded postgres stopped');
    },
  };
}

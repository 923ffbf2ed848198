import { jetstream } from '@nats-io/jetstream';
import { nuid, type NatsConnection } from '@nats-io/nats-core';
import type { Service } from '@nats-io/services';
import { connect } from '@nats-io/transport-node';
import { AccountCommandClient } from '../actors/command-client.js';
import { listParked } from '../actors/parking.js';
import { accountHandlers } from '../admin/account-handlers.js';
import { startAdminService } from '../admin/admin-service.js';
import { parkedListRequest, parseRequest } from '../admin/requests.js';
import type { Settings } from '../config/settings.js';
import { createPool, type Pool } from '../db/pool.js';
import { natsNames } from '../nats/names.js';
import { ensureAccountTopology } from '../nats/topology.js';
import type { Logger } from '../observability/logger.js';
import { startDemo, type Demo } from '../demo/demo.js';
import { startAccountLifecycle, type AccountLifecycle } from './account-lifecycle.js';
import { reconHandlers, type ReconView } from '../admin/recon-handlers.js';
import { disabledBoundary } from '../recon/boundary-status.js';
import { defaultMeDbLimits, MeDbReconciler } from '../recon/me-db/reconciler.js';

export interface EngineOptions {
  settings: Settings;
  natsUrl: string;
  databaseUrl: string;
  log: Logger;
  /** Run the exchange simulator and its demo faults against this engine. */
  simulate?: boolean;
  /** The supervisor's restart budget is spent: the engine has stopped consuming. */
  onFatal?(reason: string): void;
}

export interface Engine {
  nc: NatsConnection;
  pool: Pool;
  /** The me_db reconciler (the EOD close seals it at the cutover). */
  meDb: MeDbReconciler;
  /** The command partitions this instance holds the lease of. */
  ownedPartitions(): number[];
  stop(): Promise<void>;
}

/** Wires the engine's parts against running NATS and Postgres (already migrated). */
export async function startEngine(options: EngineOptions): Promise<Engine> {
  const { settings, log } = options;
  const names = natsNames(settings.NAMESPACE);
  const nc = await connect({ servers: options.natsUrl, name: 'recon-engine', maxReconnectAttempts: -1 });
  const pool = createPool(options.databaseUrl);
  let lifecycle: AccountLifecycle | null = null;
  let admin: Service | null = null;
  let meDb: MeDbReconciler | null = null;
  let demo: Demo | null = null;
  try {
    const js = jetstream(nc);
    const { jsm, accounts, leases } = await ensureAccountTopology(nc, names, settings.LEASE_TTL_MS);
    lifecycle = await startAccountLifecycle({
      nc, js, jsm, accounts, leases, instanceId: nuid.next(), pool, names, settings, log,
      onEscalate: (reason) => options.onFatal?.(reason),
    });
    const commands = new AccountCommandClient({ nc, js, pool, names, partitions: settings.COMMAND_PARTITIONS, timeoutMs: settings.ADMIN_TIMEOUT_MS });
    const accountsApi = accountHandlers({ js, accounts, pool, names, commands });
    meDb = new MeDbReconciler({ nc, js, jsm, pool, names, log, commands, limits: { ...defaultMeDbLimits, graceMs: settings.RECON_GRACE_MS } });
    await meDb.start();
    const reconcilers = new Map<string, ReconView>([['me_db', meDb]]);
    const reconApi = reconHandlers(reconcilers, () => [
      disabledBoundary('db_custody', 'not configured: set BITGO_ROOT_URI, BITGO_ACCESS_TOKEN and BITGO_WALLETS'),
      disabledBoundary('db_chain', 'not configured: set ETH_RPC_URL and STAKING_POOL_ADDRESS'),
    ]);
    const supervisor = lifecycle.supervisor;
    admin = await startAdminService({
      nc,
      names,
      log,
      endpoints: {
        'account.create': accountsApi.create,
        'account.get': accountsApi.get,
        'account.transition': accountsApi.transition,
        'account.history': accountsApi.history,
        'audit.replay': accountsApi.replay,
        'recon.status': reconApi.status,
        'recon.breaks': reconApi.breaks,
        'recon.break.acknowledge': reconApi.acknowledge,
        'recon.break.accept': reconApi.accept,
        'parked.list': async (body) => ({ parked: await listParked(pool, parseRequest(parkedListRequest, body).limit) }),
      },
      statsData: () => ({ accounts: supervisor.stats(), recon: [...reconcilers.values()].map((r) => r.status()) }),
    });
    if (options.simulate) demo = await startDemo({ nc, pool, names, commands, settings, log });
  } catch (error) {
    await meDb?.stop().catch(() => undefined);
    await lifecycle?.stop().catch(() => undefined);
    await nc.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw error;
  }

  let stopping: Promise<void> | null = null;
  const running = meDb;
  return {
    nc,
    pool,
    meDb: running,
    ownedPartitions: () => lifecycle?.leases.owned ?? [],
    stop() {
      stopping ??= (async () => {
        await demo?.stop().catch((error: unknown) => log.error({ err: String(error) }, 'demo stop failed'));
        await admin?.stop().catch(() => undefined);
        await meDb?.stop().catch((error: unknown) => log.error({ err: String(error) }, 'me_db reconciler stop failed'));
        await lifecycle?.stop();
        await nc.drain().catch(() => undefined);
        await pool.end();
      })();
      return stopping;
    },
  };
}

import { jetstream } from '@nats-io/jetstream';
import { nuid, type NatsConnection } from '@nats-io/nats-core';
import type { Service } from '@nats-io/services';
import { installQuietRequestSettle } from '../nats/quiet-request-settle.js';
import { connectNats } from '../nats/connect.js';
import { AccountCommandClient } from '../actors/command-client.js';
import { accountHandlers } from '../admin/account-handlers.js';
import { auditHandlers } from '../admin/audit-handlers.js';
import { balanceHandlers } from '../admin/balance-handlers.js';
import { startComplianceIntake } from '../compliance/compliance-intake.js';
import { startFillIntake } from '../eod/money/fill-intake.js';
import { startAdminService } from '../admin/admin-service.js';
import { adminHandlers } from '../admin/endpoints.js';
import type { Settings } from '../config/settings.js';
import { createPool, type Pool } from '../db/pool.js';
import { limits } from '../config/limits.js';
import { natsNames, type NatsNames } from '../nats/names.js';
import { ensureAccountTopology } from '../nats/topology.js';
import type { Logger } from '../observability/logger.js';
import { startAccountLifecycle, type AccountLifecycle } from './account-lifecycle.js';
import type { MeDbReconciler } from '../recon/me-db/reconciler.js';
import { Singletons } from './singletons.js';
import { engineObservability, type EngineObservability } from './observability.js';

export interface EngineOptions {
  settings: Settings;
  natsUrl: string;
  databaseUrl: string;
  log: Logger;
  /** The NATS server is the embedded one (no login), not the one NATS_URL names. */
  embeddedNats?: boolean;
  /** The holder id in this instance's leases (default: INSTANCE_ID, else a fresh one per process). */
  instanceId?: string;
  /** The supervisor's restart budget is spent: the engine has stopped consuming. */
  onFatal?(reason: string): void;
}

export interface Engine {
  nc: NatsConnection;
  pool: Pool;
  /** The subject, stream and bucket names of this engine's namespace. */
  names: NatsNames;
  /** Sends account commands through the partitions (what the demo opens its accounts with). */
  commands: AccountCommandClient;
  /** The me_db reconciler, on the leader (the EOD close seals it at the cutover); throws elsewhere. */
  readonly meDb: MeDbReconciler;
  /** This instance holds the leader lease and runs the reconcilers. */
  isLeader(): boolean;
  /** The command partitions this instance holds the lease of. */
  ownedPartitions(): number[];
  /** Metrics and health for the HTTP server (HTTP_LISTEN). */
  readonly observability: EngineObservability;
  stop(): Promise<void>;
}

/** Wires the engine's parts against running NATS and Postgres (already migrated). */
export async function startEngine(options: EngineOptions): Promise<Engine> {
  const { settings, log } = options;
  const names = natsNames(settings.NAMESPACE);
  // The login (NATS_USER/NATS_PASSWORD or NATS_CREDS_FILE) is for given services; the embedded NATS has none.
  // noAsyncTraces: no stack captured per request (a KV write, an event publish); it cost ~12% CPU on the command path.
  // The quiet settle: no error built per answered request either (~5% more; ADR 0032).
  if (!installQuietRequestSettle()) log.info({ event: 'nats.quiet_settle_skipped' }, '@nats-io/nats-core is not 3.4.0: its request settling is kept as it is');
  const nc = await connectNats(options.natsUrl, options.embeddedNats ? {} : settings, { name: 'recon-engine', maxReconnectAttempts: -1, noAsyncTraces: true });
  const pool = createPool(options.databaseUrl, limits.poolConnectionsMax);
  let lifecycle: AccountLifecycle | null = null;
  let admin: Service | null = null;
  let singletons: Singletons | null = null;
  const instanceId = options.instanceId ?? settings.INSTANCE_ID ?? nuid.next();
  let observability: EngineObservability | null = null;
  const intakes: Array<{ stop(): Promise<void> }> = [];
  let commands: AccountCommandClient | null = null;
  try {
    const js = jetstream(nc);
    const { jsm, accounts, leases } = await ensureAccountTopology(nc, names, settings.LEASE_TTL_MS, settings.ACCOUNT_EVENTS_MAX_AGE_DAYS * 24 * 60 * 60 * 1000);
    lifecycle = await startAccountLifecycle({
      nc, js, jsm, accounts, leases, instanceId, pool, names, settings, log,
      onEscalate: (reason) => options.onFatal?.(reason),
    });
    commands = new AccountCommandClient({ nc, js, pool, names, partitions: settings.COMMAND_PARTITIONS, timeoutMs: settings.ADMIN_TIMEOUT_MS });
    intakes.push(await startFillIntake({ js, jsm, pool, names, log }));
    intakes.push(await startComplianceIntake({ js, jsm, pool, names, log, settings, accounts, commands }));
    singletons = new Singletons({ nc, js, jsm, pool, names, log, settings, commands, leases, instanceId });
    await singletons.start();
    const leader = singletons;
    const accountPath = lifecycle;
    const supervisor = lifecycle.supervisor;
    const breaker = lifecycle.breaker;
    admin = await startAdminService({
      nc,
      names,
      log,
      endpoints: adminHandlers(
        { accounts: accountHandlers({ js, accounts, pool, names, commands }), audit: auditHandlers({ js, accounts, pool, names }), balance: balanceHandlers({ pool, accounts, js, names, log }), pool },
        leader.adminEndpoints(),
      ),
      statsData: () => ({ accounts: supervisor.stats(), intakeBreaker: breaker.status(), leader: leader.isLeader, recon: leader.statuses() }),
    });
    observability = engineObservability({ nc, jsm, pool, names, supervisorStats: () => supervisor.stats(), ownedPartitionsPending: () => accountPath.ownedPartitionsPending(), breakerStatus: () => breaker.status(), singletons: leader });
  } catch (error) {
    for (const intake of intakes) await intake.stop().catch(() => undefined);
    await singletons?.stop().catch(() => undefined);
    await lifecycle?.stop().catch(() => undefined);
    await nc.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw error;
  }

  let stopping: Promise<void> | null = null;
  const leader = singletons;
  const observed = observability;
  return {
    nc,
    pool,
    names,
    commands,
    observability: observed,
    get meDb() {
      return leader.meDb;
    },
    isLeader: () => leader.isLeader,
    ownedPartitions: () => lifecycle?.leases.owned ?? [],
    stop() {
      stopping ??= (async () => {
        await admin?.stop().catch(() => undefined);
        for (const intake of intakes) await intake.stop().catch(() => undefined);
        await singletons?.stop().catch((error: unknown) => log.error({ err: String(error) }, 'singletons stop failed'));
        await lifecycle?.stop();
        await nc.drain().catch(() => undefined);
        await pool.end();
      })();
      return stopping;
    },
  };
}

import type { KV } from '@nats-io/kv';
import type { Subscription } from '@nats-io/nats-core';
import type { AccountCommandClient } from '../actors/command-client.js';
import { AdminError, adminErrorCodes } from '../admin/errors.js';
import { reconHandlers, type ReconView } from '../admin/recon-handlers.js';
import { eodHandlers, eodRunWaitMs } from '../admin/eod-handlers.js';
import { EodService } from '../eod/close-service.js';
import type { AdminHandler } from '../admin/admin-service.js';
import { disabledBoundary, type BoundaryStatus } from '../recon/boundary-status.js';
import type { LiveBreak } from '../recon/breaks/break.js';
import { dbChainDisabledReason, startDbChainReconciler } from '../recon/db-chain/index.js';
import { dbCustodyDisabledReason, startDbCustodyReconciler } from '../recon/db-custody/index.js';
import { defaultMeDbLimits, MeDbReconciler } from '../recon/me-db/reconciler.js';
import { claimFence, type Fence } from '../supervisor/fence.js';
import { LeaderLease } from '../supervisor/leader-lease.js';
import type { ReconcilerDeps } from '../recon/reconciler-deps.js';

export interface SingletonDeps extends ReconcilerDeps {
  commands: AccountCommandClient;
  leases: KV;
  instanceId: string;
}

/** A running reconciler as the engine sees it. */
export interface Reconciler extends ReconView {
  stop(): Promise<void>;
}

const forwardTimeoutMs = 10_000;
/** `admin.eod.run` waits up to eodRunWaitMs on the leader: the forward waits longer. */
const eodForwardTimeoutMs = eodRunWaitMs + 10_000;

/**
 * The parts of the engine that must run on exactly one instance: the reconcilers (and,
 * later, the EOD close). The instance holding the leader lease runs them; every instance
 * serves `admin.recon.*`, and a non-leader forwards those requests to the leader.
 */
export class Singletons {
  private readonly reconcilers = new Map<string, Reconciler>();
  private readonly lease: LeaderLease;
  private leaderSubscription: Subscription | null = null;
  private readonly local: Record<string, AdminHandler>;
  private meDbReconciler: MeDbReconciler | null = null;
  private eodService: EodService | null = null;

  constructor(private readonly deps: SingletonDeps) {
    const api = reconHandlers(this.reconcilers, () => this.disabled());
    const eod = eodHandlers(() => {
      if (!this.eodService) throw new AdminError('INTERNAL', 'the EOD close is not running on this instance (leadership is changing); retry');
      return this.eodService;
    });
    this.local = {
      'recon.status': api.status, 'recon.breaks': api.breaks, 'recon.break.acknowledge': api.acknowledge, 'recon.break.accept': api.accept,
      'eod.run': eod.run, 'eod.status': eod.status, 'eod.report': eod.report, 'eod.proof': eod.proof,
    };
    this.lease = new LeaderLease({
      bucket: deps.leases,
      key: 'leader',
      holderId: deps.instanceId,
      leaseTtlMs: deps.settings.LEASE_TTL_MS,
      log: deps.log,
      onElected: () => this.startAll(),
      onDeposed: () => this.stopAll(),
    });
  }

  get isLeader(): boolean {
    return this.lease.isLeader;
  }

  /** The me_db reconciler, on the leader. */
  get meDb(): MeDbReconciler {
    if (!this.meDbReconciler) throw new Error('this instance is not the leader: the me_db reconciler runs elsewhere');
    return this.meDbReconciler;
  }

  /** The leader's fencing token for its durable writes (ADR 0012); null when not leading. */
  get fence(): Fence | null {
    return this.lease.fence;
  }

  statuses(): BoundaryStatus[] {
    return [...this.reconcilers.values()].map((r) => r.status());
  }

  /** The running reconcilers' statuses and the disabled boundaries (as admin.recon.status lists them). */
  allStatuses(): BoundaryStatus[] {
    return [...this.statuses(), ...this.disabled()];
  }

  /** Live breaks on this instance's reconcilers (the leader's; none elsewhere), for metrics. */
  liveBreaks(): LiveBreak[] {
    return [...this.reconcilers.values()].flatMap((r) => r.liveBreaks());
  }

  async start(): Promise<void> {
    await this.lease.start();
  }

  async stop(): Promise<void> {
    await this.lease.stop();
  }

  /** The admin endpoints: answered here on the leader, forwarded to it elsewhere. */
  adminEndpoints(): Record<string, AdminHandler> {
    return Object.fromEntries(Object.entries(this.local).map(([endpoint, handler]) => [endpoint, async (body: unknown) => {
      if (this.lease.isLeader) return handler(body);
      return this.forward(endpoint, body);
    }]));
  }

  private async forward(endpoint: string, body: unknown): Promise<unknown> {
    let reply: unknown;
    try {
      const timeout = endpoint === 'eod.run' ? eodForwardTimeoutMs : forwardTimeoutMs;
      reply = (await this.deps.nc.request(this.leaderSubject(endpoint), JSON.stringify(body), { timeout })).json();
    } catch (error) {
      throw new AdminError('INTERNAL', `no leader answered ${endpoint}: ${(error as Error).message}`);
    }
    const failure = (reply as { error?: { code?: string; message?: string } }).error;
    if (failure && typeof failure.code === 'string') {
      const code = adminErrorCodes.find((c) => c === failure.code) ?? 'INTERNAL';
      throw new AdminError(code, failure.message ?? 'failed on the leader');
    }
    return reply;
  }

  /** Not under `recon.>`: the RECON_EVENTS stream captures that, and would answer with a PubAck. */
  private leaderSubject(endpoint: string): string {
    return this.deps.names.subject(`leader.recon.${endpoint}`);
  }

  private disabled(): BoundaryStatus[] {
    const names = new Set(this.reconcilers.keys());
    return [
      ...(names.has('db_custody') ? [] : [disabledBoundary('db_custody', dbCustodyDisabledReason(this.deps.settings) ?? 'not running')]),
      ...(names.has('db_chain') ? [] : [disabledBoundary('db_chain', dbChainDisabledReason(this.deps.settings) ?? 'not running')]),
    ];
  }

  private async startAll(): Promise<void> {
    const { deps } = this;
    const fence = this.lease.fence;
    if (!fence) throw new Error('elected without a fencing token');
    // Before anything writes: waits out the previous leader's in-flight writes, refuses theirs after.
    await claimFence(deps.pool, fence);
    const meDb = new MeDbReconciler({
      nc: deps.nc, js: deps.js, jsm: deps.jsm, pool: deps.pool, names: deps.names, log: deps.log, commands: deps.commands,
      limits: { ...defaultMeDbLimits, graceMs: deps.settings.RECON_GRACE_MS },
    });
    await meDb.start();
    this.meDbReconciler = meDb;
    this.reconcilers.set('me_db', meDb);
    if (dbCustodyDisabledReason(deps.settings) === null) {
      const { nc, js, jsm, pool, names, log, settings } = deps;
      this.reconcilers.set('db_custody', await startDbCustodyReconciler({ nc, js, jsm, pool, names, log, settings }));
    }
    if (dbChainDisabledReason(deps.settings) === null) {
      const { nc, js, jsm, pool, names, log, settings } = deps;
      this.reconcilers.set('db_chain', await startDbChainReconciler({ nc, js, jsm, pool, names, log, settings }));
    }
    {
      const { nc, js, jsm, pool, names, log, settings } = deps;
      this.eodService = await EodService.start({ nc, js, jsm, pool, names, log, settings, fence: () => this.lease.fence });
    }
    // Requests forwarded by the other instances.
    this.leaderSubscription = deps.nc.subscribe(this.deps.names.subject('leader.recon.>'), {
      callback: (_error, msg) => {
        const endpoint = msg.subject.slice(this.leaderSubject('').length);
        const handler = this.local[endpoint];
        void (async () => {
          try {
            if (!handler) throw new AdminError('NOT_FOUND', `unknown endpoint ${endpoint}`);
            msg.respond(JSON.stringify(await handler(msg.json())));
          } catch (error) {
            const failure = error instanceof AdminError ? error : new AdminError('INTERNAL', (error as Error).message);
            msg.respond(JSON.stringify({ error: { code: failure.code, message: failure.message } }));
          }
        })();
      },
    });
  }

  private async stopAll(): Promise<void> {
    this.leaderSubscription?.unsubscribe();
    this.leaderSubscription = null;
    const eod = this.eodService;
    this.eodService = null;
    await eod?.stop().catch((error: unknown) => this.deps.log.error({ event: 'eod.stop_failed', err: String(error) }, 'EOD close stop failed'));
    for (const [name, reconciler] of [...this.reconcilers]) {
      this.reconcilers.delete(name);
      await reconciler.stop().catch((error: unknown) => this.deps.log.error({ event: 'recon.stop_failed', boundary: name, err: String(error) }, 'reconciler stop failed'));
    }
    this.meDbReconciler = null;
  }
}

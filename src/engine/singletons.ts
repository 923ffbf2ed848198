import type { KV } from '@nats-io/kv';
import { errors as natsErrors, type Subscription } from '@nats-io/nats-core';
import type { AccountCommandClient } from '../actors/command-client.js';
import { parkCommand } from '../actors/parking.js';
import { StrayCommands } from '../actors/stray-commands.js';
import { AdminError, adminErrorCodes } from '../admin/errors.js';
import { reconHandlers } from '../admin/recon-handlers.js';
import { eodHandlers } from '../admin/eod-handlers.js';
import { leaderEndpoints, leaderHandlers } from '../admin/endpoints.js';
import { EodService } from '../eod/close-service.js';
import type { AdminHandler } from '../admin/admin-service.js';
import { boundaries } from '../recon/boundaries.js';
import { disabledBoundary, type BoundaryStatus } from '../recon/boundary-status.js';
import type { LiveBreak } from '../recon/breaks/break.js';
import { durableWrites } from '../recon/durable-writes.js';
import { engineCommandChannel } from '../recon/engine-command-outbox.js';
import { startLeaderDrainer } from './outbox-drainers.js';
import { MeDbReconciler } from '../recon/me-db/reconciler.js';
import type { Reconciler } from '../recon/reconciler.js';
import { claimFence, type Fence } from '../supervisor/fence.js';
import { LeaderLease } from '../supervisor/leader-lease.js';
import type { ReconcilerDeps } from '../recon/reconciler-deps.js';

export interface SingletonDeps extends ReconcilerDeps {
  commands: AccountCommandClient;
  leases: KV;
  instanceId: string;
}

export type { Reconciler } from '../recon/reconciler.js';

/** Something only the leader runs: started in order on election, all or none; stopped before the lease goes. */
interface LeaderService {
  name: string;
  stop(): Promise<void>;
}

/**
 * The parts of the engine that must run on exactly one instance: the reconcilers (and,
 * later, the EOD close). The instance holding the leader lease runs them; every instance
 * serves `admin.recon.*`, and a non-leader forwards those requests to the leader.
 */
export class Singletons {
  private readonly reconcilers = new Map<string, Reconciler>();
  /** Every leader service running, in start order (stopped in reverse). */
  private services: LeaderService[] = [];
  private readonly lease: LeaderLease;
  private readonly local: Record<string, AdminHandler>;
  private meDbReconciler: MeDbReconciler | null = null;
  private eodService: EodService | null = null;

  constructor(private readonly deps: SingletonDeps) {
    this.local = leaderHandlers({
      recon: reconHandlers(this.reconcilers, () => this.disabled()),
      eod: eodHandlers(() => {
        if (!this.eodService) throw new AdminError('INTERNAL', 'the EOD close is not running on this instance (leadership is changing); retry');
        return this.eodService;
      }),
    });
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

  /** The leader-only admin endpoints (src/admin/endpoints.ts): answered here on the leader, forwarded to it elsewhere. */
  adminEndpoints(): Record<string, AdminHandler> {
    return Object.fromEntries(Object.entries(this.local).map(([endpoint, handler]) => [endpoint, async (body: unknown) => {
      if (this.lease.isLeader) return handler(body);
      return this.forward(endpoint, body);
    }]));
  }

  /**
   * Forwards to the leader and waits up to the endpoint's forwardTimeoutMs. No responders means
   * no instance leads at this moment (an election, a handover after a lost lease): the request
   * waits for one, asking again with a short backoff, and is answered here if this instance is
   * elected meanwhile, rather than failing an operator's command for a gap of a second or two.
   */
  private async forward(endpoint: string, body: unknown): Promise<unknown> {
    const timeoutMs = leaderEndpoints.find((e) => e.subject === endpoint)?.forwardTimeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    let pauseMs = 100;
    let reply: unknown;
    for (;;) {
      try {
        reply = (await this.deps.nc.request(this.leaderSubject(endpoint), JSON.stringify(body), { timeout: Math.max(1, deadline - Date.now()) })).json();
        break;
      } catch (error) {
        if (!isNoResponders(error) || Date.now() + pauseMs >= deadline) {
          throw new AdminError('INTERNAL', `no leader answered ${endpoint} within ${timeoutMs} ms: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
        pauseMs = Math.min(1_000, pauseMs * 2);
        const local = this.local[endpoint];
        if (this.lease.isLeader && local) return local(body);
      }
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
    return boundaries
      .filter((b) => !this.reconcilers.has(b.name))
      .map((b) => disabledBoundary(b.name, b.disabledReason(this.deps.settings) ?? 'not running'));
  }

  /**
   * On election: claim the fence, then start every leader service in order. All or none: if
   * one fails, those already started are stopped (in reverse) before the error goes up and
   * the lease is dropped, so a failing boundary never leaves a second copy of another running.
   */
  private async startAll(): Promise<void> {
    const { deps } = this;
    const fence = this.lease.fence;
    if (!fence) throw new Error('elected without a fencing token');
    // Before anything writes: waits out the previous leader's in-flight writes, refuses theirs after.
    await claimFence(deps.pool, fence);
    const started: LeaderService[] = [];
    const reconcilers = new Map<string, Reconciler>();
    let eodService: EodService | null = null;
    try {
      const { nc, js, jsm, pool, names, log, settings, commands } = deps;
      for (const boundary of boundaries) {
        if (boundary.disabledReason(settings) !== null) continue;
        const reconciler = await boundary.start({ nc, js, jsm, pool, names, log, settings, commands, fence, onFenced: (error) => this.stepDown(error) });
        started.push({ name: boundary.name, stop: () => reconciler.stop() });
        reconcilers.set(boundary.name, reconciler);
      }
      const drainerDeps = { pool, js, writes: durableWrites(pool, fence), log, commands, onFenced: (error: Error) => this.stepDown(error) };
      const orphanChannels = [engineCommandChannel, ...boundaries.filter((b) => !reconcilers.has(b.name)).map((b) => b.name)];
      const drainer = startLeaderDrainer(orphanChannels, drainerDeps);
      started.push({ name: 'outbox-leader', stop: () => drainer.stop() });
      const close = await EodService.start({
        nc, js, jsm, pool, names, log, settings, fence: () => this.lease.fence,
        // The close's failure breaks (negative balances) go to the boundary's reconciler: listed, counted, paged (ADR 0029).
        breaksRecorded: async (boundary) => reconcilers.get(boundary)?.adoptRecordedBreaks?.(),
      });
      started.push({ name: 'eod-close', stop: () => close.stop() });
      eodService = close;
      const strays = new StrayCommands({ nc, js, jsm, names, log, partitions: settings.COMMAND_PARTITIONS, park: (origin, error, attempts) => parkCommand(pool, origin, error, attempts) });
      await strays.start();
      started.push({ name: 'stray-commands', stop: () => strays.stop() });
      const subscription = this.serveForwarded();
      started.push({ name: 'leader-subject', stop: async () => subscription.unsubscribe() });
    } catch (error) {
      deps.log.error({ event: 'leader.start_failed', started: started.map((s) => s.name), err: (error as Error).message }, 'a leader service failed to start: stopping the ones that did');
      await stopInReverse(started, deps.log);
      throw error;
    }
    this.services = started;
    this.eodService = eodService;
    for (const [name, reconciler] of reconcilers) this.reconcilers.set(name, reconciler);
    const meDb = reconcilers.get('me_db');
    this.meDbReconciler = meDb instanceof MeDbReconciler ? meDb : null;
  }

  /** Requests forwarded by the other instances. */
  private serveForwarded(): Subscription {
    return this.deps.nc.subscribe(this.deps.names.subject('leader.recon.>'), {
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

  /** A write was refused by the fence: another instance leads now. Stop everything, let go of the lease. */
  private stepDown(error: Error): void {
    if (!this.lease.isLeader) return;
    this.deps.log.error({ event: 'leader.fenced', err: error.message }, 'fenced out: stepping down');
    void this.lease.resign('fenced');
  }

  private async stopAll(): Promise<void> {
    const services = this.services;
    this.services = [];
    this.reconcilers.clear();
    this.meDbReconciler = null;
    this.eodService = null;
    await stopInReverse(services, this.deps.log);
  }
}

async function stopInReverse(services: readonly LeaderService[], log: SingletonDeps['log']): Promise<void> {
  for (const service of [...services].reverse()) {
    await service.stop().catch((error: unknown) => log.error({ event: 'leader.service_stop_failed', service: service.name, err: String(error) }, 'leader service stop failed'));
  }
}

const isNoResponders = (error: unknown): boolean =>
  error instanceof natsErrors.NoRespondersError || (error instanceof natsErrors.RequestError && error.isNoResponders());

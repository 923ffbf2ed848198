import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { AccountActor } from '../actors/account-actor.js';
import { AuditLogGroupCommit } from '../actors/audit-group-commit.js';
import { limits } from '../config/limits.js';
import type { AccountCommand, CommandOutcome, CommandReply } from '../actors/account-command.js';
import { CommandIntake, defaultIntakeLimits } from '../actors/command-intake.js';
import { parkCommand } from '../actors/parking.js';
import type { Settings } from '../config/settings.js';
import { coolingOffMs } from '../config/settings.js';
import type { Pool } from '../db/pool.js';
import type { NatsNames } from '../nats/names.js';
import type { Logger } from '../observability/logger.js';
import { CircuitBreaker } from '../supervisor/circuit-breaker.js';
import { PartitionLeases } from '../supervisor/partition-leases.js';
import { Supervisor, type Settlement } from '../supervisor/supervisor.js';
import { dependencyProbe } from './dependency-probe.js';

export interface AccountLifecycleDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  accounts: KV;
  /** The partition lease bucket (TTL = LEASE_TTL_MS). */
  leases: KV;
  instanceId: string;
  pool: Pool;
  names: NatsNames;
  settings: Settings;
  log: Logger;
  onEscalate(reason: string): void;
}

export interface AccountLifecycle {
  supervisor: Supervisor<AccountCommand, CommandOutcome>;
  /** Open while NATS or Postgres is slow or away: the intakes pause instead of the engine stopping. */
  breaker: CircuitBreaker;
  leases: PartitionLeases;
  /** The partitions this instance consumes, each with its intake's pending count while current (null: ask the server). */
  ownedPartitionsPending(): Array<{ partition: number; pending: number | null }>;
  stop(): Promise<void>;
}

/** Account actors under their supervisor, fed by one durable consumer per command partition. */
export async function startAccountLifecycle(deps: AccountLifecycleDeps): Promise<AccountLifecycle> {
  const { settings, log, nc } = deps;
  const audit = new AuditLogGroupCommit(deps.pool);
  const breaker = new CircuitBreaker({
    name: 'commands',
    failuresToOpen: settings.COMMAND_BREAKER_FAILURES,
    backoffInitialMs: Math.min(limits.breakerBackoffInitialMs, settings.COMMAND_BREAKER_BACKOFF_MAX_MS),
    backoffMaxMs: settings.COMMAND_BREAKER_BACKOFF_MAX_MS,
    log,
  });
  const supervisor = new Supervisor<AccountCommand, CommandOutcome>({
    name: 'accounts',
    log,
    limits: {
      liveActorsMax: settings.LIVE_ACTORS_MAX,
      mailboxDepthMax: settings.MAILBOX_DEPTH_MAX,
      idleMs: settings.ACTOR_IDLE_MS,
      attemptsMax: settings.COMMAND_MAX_ATTEMPTS,
      transientOwnAttemptsMax: limits.transientOwnAttemptsMax,
      backoffInitialMs: limits.backoffInitialMs,
      backoffMaxMs: limits.backoffMaxMs,
      restartsMax: settings.COMMAND_RESTARTS_MAX,
      restartWindowMs: limits.restartWindowMs,
    },
    spawn: (userId) =>
      new AccountActor(userId, {
        pool: deps.pool,
        audit,
        accounts: deps.accounts,
        js: deps.js,
        names: deps.names,
        coolingOffMs: coolingOffMs(settings),
        nowMs: Date.now,
      }),
    onEscalate: deps.onEscalate,
    breaker,
    probe: dependencyProbe({ pool: deps.pool, jsm: deps.jsm, timeoutMs: limits.dependencyProbeTimeoutMs }),
  });

  const reply = (command: AccountCommand, settlement: Settlement<CommandOutcome>): void => {
    if (!command.replyTo) return;
    const body: CommandReply = settlement.kind === 'done'
      ? settlement.result
      : { ok: false, userId: command.userId, error: { code: 'INTERNAL', message: `command parked after ${settlement.attempts} attempts: ${settlement.error}` } };
    nc.publish(command.replyTo, JSON.stringify(body));
  };

  const intakeOf = (partition: number): CommandIntake =>
    new CommandIntake(partition, {
      js: deps.js,
      jsm: deps.jsm,
      names: deps.names,
      supervisor,
      breaker,
      log,
      limits: defaultIntakeLimits,
      partitions: settings.COMMAND_PARTITIONS,
      park: (origin, error, attempts) => parkCommand(deps.pool, origin, error, attempts),
      reply,
    });
  const intakes = new Map<number, CommandIntake>();
  const leases = new PartitionLeases({
    bucket: deps.leases,
    partitions: settings.COMMAND_PARTITIONS,
    holderId: deps.instanceId,
    leaseTtlMs: settings.LEASE_TTL_MS,
    log,
    onAcquired: async (partition) => {
      const intake = intakeOf(partition);
      await intake.start();
      intakes.set(partition, intake);
    },
    onLost: async (partition) => {
      const intake = intakes.get(partition);
      intakes.delete(partition);
      await intake?.stop();
    },
  });
  await leases.start();
  log.info({ event: 'accounts.started', partitions: settings.COMMAND_PARTITIONS, owned: leases.owned, instanceId: deps.instanceId }, 'account lifecycle consuming commands');

  return {
    supervisor,
    breaker,
    leases,
    ownedPartitionsPending: () => [...intakes].map(([partition, intake]) => ({ partition, pending: intake.pendingWhileFlowing() })),
    async stop() {
      await leases.stop();
      supervisor.stop();
      breaker.dispose();
    },
  };
}

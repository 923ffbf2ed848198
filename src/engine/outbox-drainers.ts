import type { JetStreamClient } from '@nats-io/jetstream';
import type { AccountCommandClient } from '../actors/command-client.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../observability/logger.js';
import { OutboxDrainer } from '../recon/breaks/outbox.js';
import type { DurableWrites } from '../recon/durable-writes.js';
import { reconLimits } from '../recon/limits.js';
import { FencedError } from '../supervisor/fence.js';

export interface LeaderDrainerDeps {
  pool: Pool;
  js: JetStreamClient;
  writes: DurableWrites;
  log: Logger;
  commands?: AccountCommandClient;
  /** A write refused by the fence: another instance leads now. */
  onFenced(error: FencedError): void;
}

/**
 * A drainer the leader runs for outbox rows no running reconciler owns (ADR 0020): the
 * matching-engine commands that follow a posting, and the rows a boundary left pending before it
 * was switched off (its alerts, resolutions and freezes still go out; nothing adds new ones).
 */
export function startLeaderDrainer(channel: string, deps: LeaderDrainerDeps): OutboxDrainer {
  const drainer = new OutboxDrainer({
    boundary: channel,
    pool: deps.pool,
    js: deps.js,
    writes: deps.writes,
    log: deps.log,
    ...(deps.commands ? { commands: deps.commands } : {}),
    onBacklog: (pending) => deps.log.error({ event: 'outbox.backlog', channel, pending, limit: reconLimits.outboxPendingMax }, `${pending} outbox rows of ${channel} are waiting; none is dropped`),
    onWriteFailed: (error) => {
      if (error instanceof FencedError) return deps.onFenced(error);
      deps.log.warn({ event: 'outbox.drain_failed', channel, err: error instanceof Error ? error.message : String(error) }, `draining the outbox of ${channel} failed; retried`);
    },
  });
  drainer.start();
  return drainer;
}

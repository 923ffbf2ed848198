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
 * The one drainer the leader runs for the outbox rows no running reconciler owns (ADR 0020):
 * the matching-engine commands that follow a posting, and the rows a boundary left pending
 * before it was switched off (its alerts, resolutions and freezes still go out; nothing adds
 * new ones). One poll for all of them, each channel's rows still in order and paged apart.
 */
export function startLeaderDrainer(channels: readonly string[], deps: LeaderDrainerDeps): OutboxDrainer {
  const drainer = new OutboxDrainer({
    channels,
    pool: deps.pool,
    js: deps.js,
    writes: deps.writes,
    log: deps.log,
    ...(deps.commands ? { commands: deps.commands } : {}),
    onBacklog: (channel, pending) => deps.log.error({ event: 'outbox.backlog', channel, pending, limit: reconLimits.outboxPendingMax }, `${pending} outbox rows of ${channel} are waiting; none is dropped`),
    onWriteFailed: (error) => {
      if (error instanceof FencedError) return deps.onFenced(error);
      deps.log.warn({ event: 'outbox.drain_failed', channels, err: error instanceof Error ? error.message : String(error) }, `draining the outbox of ${channels.join(', ')} failed; retried`);
    },
  });
  drainer.start();
  return drainer;
}

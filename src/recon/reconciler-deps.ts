import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Settings } from '../config/settings.js';
import type { Pool } from '../db/pool.js';
import type { NatsNames } from '../nats/names.js';
import type { Logger } from '../observability/logger.js';
import type { Fence } from '../supervisor/fence.js';

/** What every reconciler is started with. */
export interface ReconcilerDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  pool: Pool;
  names: NatsNames;
  log: Logger;
  settings: Settings;
  /** The leader term's fencing token: every durable write checks it (absent: unfenced, e.g. a test). */
  fence?: Fence | null;
  /** A write was refused by the fence: this instance is no longer the leader and must step down. */
  onFenced?(error: Error): void;
}

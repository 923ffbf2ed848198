import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Settings } from '../config/settings.js';
import type { Pool } from '../db/pool.js';
import type { NatsNames } from '../nats/names.js';
import type { Logger } from '../observability/logger.js';

/**
 * What every long-running part of the engine (a reconciler, the close, the compliance intake) is
 * started with: the connections, the names of this deployment's streams and subjects, the
 * settings and the log. Each part's own deps extend it with what is particular to it.
 */
export interface ServiceContext {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  pool: Pool;
  names: NatsNames;
  log: Logger;
  settings: Settings;
}

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { EodService } from '../../src/eod/close-service.js';
import type { EodStep } from '../../src/eod/steps/step.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { ensureAccountTopology, removeTopology } from '../../src/nats/topology.js';
import { claimFence, type Fence } from '../../src/supervisor/fence.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { silentLogger } from './log.js';
import { sharedNatsUrl, testNamespace } from './nats.js';

/**
 * The close on its own, as the leader runs it: a scratch database and namespace, a reports
 * directory, and `fence` claimed. `service()` starts an EodService on them (scheduler off unless
 * the overrides say otherwise); `close()` removes all of it.
 */
export class EodHarness {
  readonly names: NatsNames = natsNames(testNamespace());
  private db: TestDatabase | null = null;
  pool!: Pool;
  nc!: NatsConnection;
  dir!: string;

  constructor(readonly fence: Fence) {}

  async open(): Promise<{ pool: Pool; nc: NatsConnection; dir: string }> {
    this.dir = await mkdtemp(path.join(os.tmpdir(), `recon-${this.fence.lease}-`));
    this.db = await createTestDatabase();
    this.pool = createPool(this.db.url, 4);
    this.nc = await connect({ servers: sharedNatsUrl() });
    await claimFence(this.pool, this.fence);
    return { pool: this.pool, nc: this.nc, dir: this.dir };
  }

  settings(overrides: Record<string, string> = {}): Settings {
    return loadSettings({}, { NAMESPACE: this.names.namespace, EOD_SCHEDULER: 'off', EOD_REPORTS_DIR: path.join(this.dir, 'reports'), LOG_LEVEL: 'silent', ...overrides });
  }

  async service(overrides: Record<string, string> = {}, options: { steps?: readonly EodStep[]; fence?: Fence; nowMs?: () => number } = {}): Promise<EodService> {
    const { nc, pool, names } = this;
    const fence = options.fence ?? this.fence;
    return EodService.start({
      nc, js: jetstream(nc), jsm: (await ensureAccountTopology(nc, names)).jsm, pool, names, log: silentLogger(), settings: this.settings(overrides), fence: () => fence,
      ...(options.steps ? { stepOverrides: options.steps } : {}),
      ...(options.nowMs ? { nowMs: options.nowMs } : {}),
    });
  }

  async close(): Promise<void> {
    if (this.nc) {
      await removeTopology(this.nc, this.names);
      await this.nc.close();
    }
    await this.pool?.end();
    await this.db?.drop();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * NATS for tests: the shared server (one per run, isolated by namespace) and
 * private servers for tests that stop, kill or restart the server.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { defaultCacheDir, locateNatsServer } from '../../src/embedded/nats-server-binary.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../../src/embedded/nats-server-process.js';
import { silentLogger } from './log.js';

/** `t` + 8 hex digits: unique per call, valid for natsNames() (letters and digits, ≤ 32). */
export function testNamespace(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

/** The run's shared NATS (JetStream on); isolate with testNamespace(). */
export function sharedNatsUrl(): string {
  return inject('natsUrl');
}

export interface StartPrivateNatsOptions {
  /** Fixed port; a free one if omitted. */
  port?: number;
  /** JetStream store; a temp dir removed by stop() if omitted. A given dir is kept. */
  storeDir?: string;
}

/** A private server whose port and store survive restart(). */
export interface PrivateNats extends NatsServerHandle {
  /** Stop (gracefully) if running, then start again on the same port and store. */
  restart(): Promise<void>;
}

export async function startPrivateNats(opts: StartPrivateNatsOptions = {}): Promise<PrivateNats> {
  const log = silentLogger();
  const binary = await locateNatsServer({ cacheDir: defaultCacheDir(), log });
  const ownsStore = !opts.storeDir;
  const storeDir = opts.storeDir ? path.resolve(opts.storeDir) : await fs.mkdtemp(path.join(os.tmpdir(), 'recon-test-nats-'));
  const port = opts.port ?? (await freePort());
  // We always pass storeDir, so the inner handle never deletes it; our stop() does.
  let current: NatsServerHandle;
  try {
    current = await startNatsServer({ binary, log, port, storeDir });
  } catch (err) {
    if (ownsStore) await fs.rm(storeDir, { recursive: true, force: true });
    throw err;
  }

  return {
    url: current.url,
    port,
    storeDir,
    get pid() {
      return current.pid;
    },
    kill(signal?: NodeJS.Signals) {
      current.kill(signal);
    },
    async restart() {
      await current.stop();
      current = await startNatsServer({ binary, log, port, storeDir });
    },
    async stop() {
      await current.stop();
      if (ownsStore) await fs.rm(storeDir, { recursive: true, force: true });
    },
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCacheDir, locateNatsServer } from '../../src/embedded/nats-server-binary.js';
import { canConnect, freePort } from '../../src/embedded/nats-server-process.js';
import { silentLogger } from '../support/log.js';
import { until } from '../support/until.js';

export const shippedConfig = fileURLToPath(new URL('../../deploy/nats-server.conf', import.meta.url));

export interface RoleServer {
  url: string;
  passwords: { engine: string; operator: string; auditor: string };
  stop(): Promise<void>;
}

/** A real nats-server with the shipped deploy/nats-server.conf, passwords and store from its environment. */
export async function startRoleServer(): Promise<RoleServer> {
  const binary = await locateNatsServer({ cacheDir: defaultCacheDir(), log: silentLogger() });
  const storeDir = await fs.mkdtemp(path.join(os.tmpdir(), 'recon-roles-'));
  const port = await freePort();
  const passwords = { engine: `e-${Math.random().toString(36).slice(2)}`, operator: `o-${Math.random().toString(36).slice(2)}`, auditor: `a-${Math.random().toString(36).slice(2)}` };
  const child: ChildProcess = spawn(binary, ['-c', shippedConfig, '-a', '127.0.0.1', '-p', String(port)], {
    env: { RECON_ENGINE_PASSWORD: passwords.engine, RECON_OPERATOR_PASSWORD: passwords.operator, RECON_AUDITOR_PASSWORD: passwords.auditor, RECON_JS_STORE_DIR: storeDir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await until(`nats-server with ${shippedConfig} on port ${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`nats-server exited: ${output}`);
      return canConnect(port);
    }, 10_000);
  } catch (error) {
    child.kill('SIGKILL');
    await fs.rm(storeDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    passwords,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await fs.rm(storeDir, { recursive: true, force: true });
    },
  };
}

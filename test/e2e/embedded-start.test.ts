import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
let child: ChildProcess | null = null;
const reportsDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'recon-e2e-')), 'reports');

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(path.dirname(reportsDir), { recursive: true, force: true });
});

describe('npm start with no configuration', () => {
  it('brings up its own NATS and Postgres and answers admin.account.get', { timeout: 90_000 }, async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', EOD_REPORTS_DIR: reportsDir, HTTP_LISTEN: '127.0.0.1:0' };
    for (const name of ['NATS_URL', 'DATABASE_URL', 'CONFIG_FILE', 'NAMESPACE']) delete env[name];
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const ready = new Promise<{ natsUrl: string; embedded: { nats: boolean; postgres: boolean } }>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        for (const line of output.split('\n')) {
          if (!line.includes('"event":"engine.ready"')) continue;
          resolve(JSON.parse(line));
        }
      };
      child?.stdout?.on('data', onData);
      child?.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child?.once('exit', (code) => reject(new Error(`engine exited with ${code}:\n${output.slice(-3_000)}`)));
    });
    const info = await ready;
    expect(info.embedded).toEqual({ nats: true, postgres: true });
    // Before going live, the demo closed yesterday and said where its sealed report is.
    const sealed = output.split('\n').find((line) => line.includes('"event":"demo.previous_day.sealed"'));
    expect(sealed, output.slice(-3_000)).toBeDefined();
    const { json, html } = JSON.parse(sealed as string) as { json: string; html: string };
    expect(existsSync(json) && existsSync(html)).toBe(true);

    const nc = await connect({ servers: info.natsUrl });
    try {
      // The demo opens its accounts as the simulator starts; wait for the first one.
      const deadline = Date.now() + 30_000;
      let reply: unknown;
      do {
        reply = (await nc.request('admin.account.get', JSON.stringify({ userId: 'demo0001' }), { timeout: 5_000 })).json();
        if ((reply as { state?: string }).state) break;
        await new Promise((r) => setTimeout(r, 250));
      } while (Date.now() < deadline);
      expect(reply).toEqual({
        userId: 'demo0001', state: 'active', revision: expect.any(Number), capabilities: { trade: true, withdraw: true, deposit: true },
      });
      const missing = (await nc.request('admin.account.get', JSON.stringify({ userId: 'nobody' }), { timeout: 5_000 })).json();
      expect(missing).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
    } finally {
      await nc.close();
    }
  });
});

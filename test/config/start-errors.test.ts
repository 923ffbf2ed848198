import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError, unknownSettingName } from '../../src/config/settings.js';
import { projectRoot } from '../cli/run-cli.js';
import { createTestDatabase } from '../support/database.js';
import { sharedNatsUrl } from '../support/nats.js';

/** `npm start` as a user runs it (tsx src/main.ts), with only the env given. */
function npmStart(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: projectRoot, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('a name that looks like a setting but is not one', () => {
  it('names it and the nearest setting', () => {
    expect(unknownSettingName(['PATH', 'HOME', 'RECON_GRACEMS'])).toEqual({ name: 'RECON_GRACEMS', nearest: 'RECON_GRACE_MS' });
    expect(unknownSettingName(['NATS_PASWORD'])).toEqual({ name: 'NATS_PASWORD', nearest: 'NATS_PASSWORD' });
    expect(unknownSettingName(['DATABSE_URL'])).toEqual({ name: 'DATABSE_URL', nearest: 'DATABASE_URL' });
    // nats-server's config variables (deploy/nats-server.conf) and unrelated names are fine.
    expect(unknownSettingName(['RECON_ENGINE_PASSWORD', 'RECON_AUDITOR_PASSWORD', 'RECON_JS_STORE_DIR', 'PATH', 'NODE_OPTIONS', 'TEST_NATS_URL', 'NATS_CONTEXT', 'NATS_CA'])).toBeNull();
    expect(() => loadSettings({ EOD_TIMEZONES: 'UTC' })).toThrow(new SettingsError('config: EOD_TIMEZONES: not a setting (environment); did you mean EOD_TIMEZONE?'));
  });

  it('in a config file too', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'recon-config-')), 'recon.json');
    writeFileSync(file, JSON.stringify({ RECON_GRACE_MS: 100, CHAIN_CONFIRMATION: 3 }));
    expect(() => loadSettings({ CONFIG_FILE: file })).toThrow(`config: CHAIN_CONFIRMATION: unknown setting in ${file}; did you mean CHAIN_CONFIRMATIONS?`);
  });

  it('stops npm start with one line and exit 2', async () => {
    const run = await npmStart({ RECON_GRACEMS: '100' });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('recon: config: RECON_GRACEMS: not a setting (environment); did you mean RECON_GRACE_MS?\n');
  });
});

describe('a service that cannot be reached', () => {
  it('npm start names NATS, its URL and NATS_URL (exit 4), before touching the database', async () => {
    const database = await createTestDatabase();
    try {
      const run = await npmStart({ NATS_URL: 'nats://127.0.0.1:1', DATABASE_URL: database.url, HTTP_LISTEN: '127.0.0.1:0' });
      expect(run.code).toBe(4);
      expect(run.stderr).toBe('recon: cannot reach NATS at nats://127.0.0.1:1 (NATS_URL): connection refused\n');
    } finally {
      await database.drop();
    }
  });

  it('names HTTP_LISTEN when its port is taken, and goes on without metrics (a second instance on the host)', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const run = await npmStart({ HTTP_LISTEN: `127.0.0.1:${port}`, NATS_URL: 'nats://127.0.0.1:1', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
      const warning = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.event === 'http.unavailable');
      expect(warning).toMatchObject({ level: 40, listen: `127.0.0.1:${port}`, err: `cannot listen on 127.0.0.1:${port} (HTTP_LISTEN): EADDRINUSE` });
      // It went on, to the next thing that is wrong.
      expect(run.stderr).toBe('recon: cannot reach NATS at nats://127.0.0.1:1 (NATS_URL): connection refused\n');
    } finally {
      taken.close();
    }
  });

  it('never prints a password given in NATS_URL', async () => {
    const run = await npmStart({ NATS_URL: 'nats://engine:s3cret@127.0.0.1:1', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', HTTP_LISTEN: 'off' });
    expect(run.code).toBe(4);
    expect(run.stderr).toBe('recon: cannot reach NATS at nats://engine:***@127.0.0.1:1 (NATS_URL): connection refused\n');
  });

  it('npm start names PostgreSQL, its URL without the password, and DATABASE_URL', async () => {
    const run = await npmStart({ NATS_URL: sharedNatsUrl(), DATABASE_URL: 'postgres://recon:s3cret@127.0.0.1:1/recon', HTTP_LISTEN: '127.0.0.1:0' });
    expect(run.code).toBe(4);
    expect(run.stderr).toBe('recon: cannot use PostgreSQL at postgres://recon:***@127.0.0.1:1/recon (DATABASE_URL): connection refused\n');
    expect(run.stdout + run.stderr).not.toContain('s3cret');
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds, type KeyPair } from '@nats-io/jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCacheDir, locateNatsServer } from '../../src/embedded/nats-server-binary.js';
import { canConnect, freePort } from '../../src/embedded/nats-server-process.js';
import { runCli } from '../cli/run-cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { silentLogger } from '../support/log.js';
import { startReconProcess, type ReconStart } from '../support/recon-start.js';
import { until } from '../support/until.js';

/**
 * NATS_CREDS_FILE against a real nats-server in operator (JWT) mode: an operator, one account
 * with JetStream, users issued by that account. The engine logs in with its creds file and
 * serves the admin service; the CLI logs in with its own; a user the server does not know (issued
 * by an account it was never given) is refused, and the error names the file and the setting.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), 'recon-creds-'));
let server: ChildProcess | undefined;
let serverExited: Promise<void> | undefined;
let url = '';
let database: TestDatabase;
let engine: ReconStart | undefined;
const creds: Record<'engine' | 'operator' | 'stranger', string> = { engine: '', operator: '', stranger: '' };

async function writeCreds(name: string, account: KeyPair): Promise<string> {
  const user = createUser();
  const jwt = await encodeUser(name, user, account);
  const file = path.join(dir, `${name}.creds`);
  writeFileSync(file, fmtCreds(jwt, user), { mode: 0o600 });
  return file;
}

beforeAll(async () => {
  const operator = createOperator();
  const account = createAccount();
  const system = createAccount(); // the server's own account (JetStream needs one in operator mode)
  const operatorJwt = await encodeOperator('recon-test', operator, { system_account: system.getPublicKey() });
  const systemJwt = await encodeAccount('SYS', system, {}, { signer: operator });
  // An account's limits default to none allowed, JetStream included: unlimited here.
  const unlimited = { conn: -1, leaf: -1, subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };
  const accountJwt = await encodeAccount('RECON', account, { limits: unlimited }, { signer: operator });
  creds.engine = await writeCreds('engine', account);
  creds.operator = await writeCreds('operator', account);
  creds.stranger = await writeCreds('stranger', createAccount());
  const port = await freePort();
  const config = path.join(dir, 'server.conf');
  writeFileSync(config, [
    `listen: 127.0.0.1:${port}`,
    `operator: ${operatorJwt}`,
    'resolver: MEMORY',
    `system_account: ${system.getPublicKey()}`,
    `resolver_preload: { ${account.getPublicKey()}: ${accountJwt}, ${system.getPublicKey()}: ${systemJwt} }`,
    `jetstream: { store_dir: "${path.join(dir, 'js')}" }`,
  ].join('\n'));
  const binary = await locateNatsServer({ cacheDir: defaultCacheDir(), log: silentLogger() });
  const child = spawn(binary, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  server = child;
  let output = '';
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  serverExited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await until(`nats-server in operator mode on port ${port}`, async () => {
    if (child.exitCode !== null) throw new Error(`nats-server exited: ${output}`);
    return canConnect(port);
  }, 10_000);
  url = `nats://127.0.0.1:${port}`;
  database = await createTestDatabase();
  engine = await startReconProcess({
    NATS_URL: url, NATS_CREDS_FILE: creds.engine, DATABASE_URL: database.url, HTTP_LISTEN: 'off', COMMAND_PARTITIONS: '2', EOD_SCHEDULER: 'off',
    EOD_REPORTS_DIR: path.join(dir, 'reports'),
  });
}, 120_000);

afterAll(async () => {
  await engine?.stop();
  await database?.drop();
  server?.kill('SIGTERM');
  await serverExited;
  rmSync(dir, { recursive: true, force: true });
});

describe('NATS_CREDS_FILE on a nats-server in operator (JWT) mode', () => {
  it('the engine logs in with its creds and serves; the CLI logs in with its own and writes', async () => {
    const status = await runCli(['status', '--json'], { NATS_URL: url, NATS_CREDS_FILE: creds.operator });
    expect(status.code).toBe(0);
    expect(status.json<{ boundaries: Array<{ name: string }> }>().boundaries.map((b) => b.name)).toContain('me_db');
    const created = await runCli(['account', 'create', 'carol', '--json'], { NATS_URL: url, NATS_CREDS_FILE: creds.operator });
    expect(created.code).toBe(0);
    expect(created.json()).toMatchObject({ userId: 'carol', state: 'pending_kyc' });
    const got = await runCli(['account', 'get', 'carol', '--json'], { NATS_URL: url, NATS_CREDS_FILE: creds.operator });
    expect(got.json()).toMatchObject({ userId: 'carol', state: 'pending_kyc' });
    // The creds' secret (the user's seed) never reaches the engine's logs.
    expect(engine?.output()).not.toMatch(/SUA[A-Z2-7]{20,}/);
  });

  it('a user issued by an account the server was never given is refused: exit 4 naming the file and the setting', async () => {
    const run = await runCli(['status'], { NATS_URL: url, NATS_CREDS_FILE: creds.stranger });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`refused the credentials in ${creds.stranger} (NATS_CREDS_FILE)`);
  });
});

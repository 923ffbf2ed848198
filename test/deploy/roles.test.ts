import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { PermissionViolationError, type NatsConnection } from '@nats-io/nats-core';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/actors/partition.js';
import { BitgoSimulator, randomV2AccessToken } from '../../src/adapters/bitgo/simulator/index.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { runCli } from '../cli/run-cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startReconProcess, type ReconStart } from '../support/recon-start.js';
import { until } from '../support/until.js';
import { startRoleServer, type RoleServer } from './role-server.js';

/**
 * deploy/nats-server.conf on a real nats-server: the engine logs in as `engine`, people as
 * `operator` or `auditor`, and the server (not the engine) refuses what a role may not do.
 */
let server: RoleServer;
let database: TestDatabase;
let engine: ReconStart;
let pool: Pool;
let bitgo: BitgoSimulator;
const bitgoToken = randomV2AccessToken();
const keyDir = mkdtempSync(path.join(os.tmpdir(), 'recon-roles-key-'));
const signingKeyFile = path.join(keyDir, 'eod-signing.pem');
const signingKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
writeFileSync(signingKeyFile, signingKeyPem, { mode: 0o600 });
const yesterday = new Date(Date.now() - 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
const as = (user: 'operator' | 'auditor', password?: string) => ({ NATS_URL: server.url, NATS_USER: user, NATS_PASSWORD: password ?? server.passwords[user] });

beforeAll(async () => {
  server = await startRoleServer();
  // The custodian holds what the ledger says it holds (1.5 BTC, below), so the close can seal.
  bitgo = await BitgoSimulator.start({ accessToken: bitgoToken, port: 0, wallets: [{ coin: 'tbtc', id: 'w1', label: 'BTC hot', balance: 150_000_000n }] });
  database = await createTestDatabase();
  pool = createPool(database.url, 2);
  engine = await startReconProcess({
    NATS_URL: server.url,
    NATS_USER: 'engine',
    NATS_PASSWORD: server.passwords.engine,
    DATABASE_URL: database.url,
    HTTP_LISTEN: 'off',
    LOG_LEVEL: 'debug',
    COMMAND_PARTITIONS: '4',
    // The custody boundary: every request carries the token; the logs must not.
    BITGO_ROOT_URI: bitgo.url,
    BITGO_ACCESS_TOKEN: bitgoToken,
    BITGO_WALLETS: 'BTC=tbtc:w1',
    BITGO_POLL_MS: '500',
    EOD_SIGNING_KEY_FILE: signingKeyFile,
    EOD_REPORTS_DIR: path.join(keyDir, 'reports'),
    EOD_SCHEDULER: 'off',
  });
});
afterAll(async () => {
  await engine?.stop();
  await pool?.end();
  await database?.drop();
  await server?.stop();
  await bitgo?.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

describe('roles on the shipped nats-server.conf', () => {
  it('the operator writes: creates and moves an account', async () => {
    expect((await runCli(['account', 'create', 'alice', '--json'], as('operator'))).code).toBe(0);
    const moved = await runCli(['account', 'transition', 'alice', 'kyc_approved', '--reason', 'kyc_pass', '--authority', 'system', '--actor', 'kyc', '--json'], as('operator'));
    expect(moved.code).toBe(0);
    expect(moved.json()).toMatchObject({ from: 'pending_kyc', to: 'kyc_approved' });
  });

  it('the operator runs a close (JetStream, KV and the object store under the engine\'s permissions); the auditor reads it', async () => {
    // Yesterday alice deposited 1.5 BTC: the ledger and the matching engine agree.
    await pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
       VALUES ('j1', 'alice', 'BTC', 1.5, 'deposit', 'j1', $1), ('j1', 'house:custody', 'BTC', -1.5, 'deposit', 'j1', $1)`,
      [`${yesterday}T10:00:00Z`],
    );
    const nc = await connect({ servers: server.url, user: 'engine', pass: server.passwords.engine });
    await jetstream(nc).publish('me.balance.alice', JSON.stringify({ seq: 1, userId: 'alice', currency: 'BTC', total: '1.5', locked: '0', available: '1.5', ts: `${yesterday}T10:00:00Z` }));
    await nc.close();
    const run = await until('a sealed close', async () => {
      const attempt = await runCli(['eod', 'run', yesterday, '--json'], as('operator'));
      return attempt.code === 0 && attempt.json<{ status: string }>().status === 'sealed' ? attempt : null;
    }, 60_000, 1_000);
    expect(run.json()).toMatchObject({ date: yesterday, status: 'sealed' });
    for (const args of [['eod', 'status', yesterday], ['eod', 'report', yesterday], ['eod', 'proof', yesterday, 'alice', 'BTC']]) {
      const read = await runCli([...args, '--json'], as('auditor'));
      expect(read.code, `${args.join(' ')}: ${read.stderr}`).toBe(0);
    }
  }, 120_000);

  it('the auditor reads: get, history, status, breaks, replay, verify', async () => {
    for (const args of [['account', 'get', 'alice'], ['account', 'history', 'alice'], ['status'], ['breaks'], ['audit', 'replay', 'alice'], ['audit', 'verify']]) {
      const run = await runCli([...args, '--json'], as('auditor'));
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
    }
    // Discovery works for the auditor too.
    const nc = await connect({ servers: server.url, user: 'auditor', pass: server.passwords.auditor });
    try {
      const ping = (await nc.request('$SRV.PING.recon-admin', '', { timeout: 5_000 })).json<{ name: string }>();
      expect(ping.name).toBe('recon-admin');
    } finally {
      await nc.close();
    }
  });

  it('the server refuses the auditor\'s writes, and nothing changes', async () => {
    const before = await snapshot();
    const refused = [
      ['account', 'transition', 'alice', 'active', '--reason', 'first_deposit', '--authority', 'system', '--actor', 'auditor-1'],
      ['account', 'create', 'mallory'],
      ['balance', 'adjust', 'alice', 'BTC', '1', '--reason', 'r', '--actor', 'auditor-1', '--key', 'k1'],
      ['eod', 'run', '2026-12-01', '--no-wait'],
    ];
    for (const args of refused) {
      const run = await runCli([...args, '--json'], as('auditor'));
      expect(run.code, args.join(' ')).toBe(3);
      expect(run.json(), args.join(' ')).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.stringMatching(/permissions violation/i) } });
    }

    // Straight onto the command stream, around the admin service.
    const nc = await connect({ servers: server.url, user: 'auditor', pass: server.passwords.auditor });
    const violations: PermissionViolationError[] = [];
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'error' && s.error instanceof PermissionViolationError) violations.push(s.error);
    })();
    const command = { commandId: 'sneaky-1', kind: 'transition', userId: 'alice', target: 'active', authority: 'system', reasonCode: 'first_deposit', actorId: 'auditor-1' };
    nc.publish(`acct.cmd.${partitionOf('alice', 4)}.alice`, JSON.stringify(command));
    nc.publish('me.balance.alice', JSON.stringify({ seq: 1, userId: 'alice', currency: 'BTC', total: '1', locked: '0', available: '1', ts: new Date().toISOString() }));
    nc.publish('compliance.sanctions.hit.alice', JSON.stringify({ userId: 'alice', list: 'OFAC', reference: 'x', ts: new Date().toISOString() }));
    // Nor can it forge a reply onto someone's inbox.
    nc.publish('_INBOX.forged', JSON.stringify({ ok: true }));
    await until('four permission violations', () => violations.length >= 4);
    expect(violations.map((v) => v.subject).sort()).toEqual(['_INBOX.forged', 'acct.cmd.' + partitionOf('alice', 4) + '.alice', 'compliance.sanctions.hit.alice', 'me.balance.alice'].sort());
    await nc.close();

    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await snapshot()).toEqual(before);
  });

  it('a wrong password is refused (exit 4, naming the user and the settings)', async () => {
    const run = await runCli(['status', '--json'], as('auditor', 'not-the-password'));
    expect(run.code).toBe(4);
    expect(run.json<{ error: { message: string } }>().error.message).toBe(`NATS at ${server.url} (NATS_URL) refused user auditor (NATS_USER/NATS_PASSWORD): authorization violation`);
    await expect(connect({ servers: server.url, user: 'engine', pass: 'wrong' })).rejects.toThrow(/authorization/i);
  });

  it('no secret appears in the engine\'s logs', async () => {
    // Let the unreachable custody boundary fail a few polls, with the token in every request.
    expect(bitgo.requests.total).toBeGreaterThan(0);
    const logs = engine.output();
    expect(logs).toMatch(/"event":"engine.ready"/);
    expect(logs).toMatch(/"level":20/); // debug lines included: the most the engine ever logs
    const keyBody = signingKeyPem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    for (const secret of [server.passwords.engine, bitgoToken, bitgoToken.slice(3), keyBody]) expect(logs).not.toContain(secret);
    expect(logs).toMatch(/"event":"eod\.run\.sealed"/); // the key was used
  });
});

async function snapshot(): Promise<unknown> {
  const nc: NatsConnection = await connect({ servers: server.url, user: 'engine', pass: server.passwords.engine });
  try {
    const kv = await new Kvm(nc).open('accounts');
    const entry = await kv.get('alice');
    const audit = await pool.query('SELECT user_id, seq, to_state FROM account_state_transitions ORDER BY user_id, seq');
    const rejections = await pool.query('SELECT count(*)::int AS n FROM account_command_rejections');
    return { revision: entry?.revision, state: entry?.json<{ state: string }>().state, audit: audit.rows, rejections: rejections.rows[0] };
  } finally {
    await nc.close();
  }
}

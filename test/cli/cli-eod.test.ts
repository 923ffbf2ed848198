import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedNatsUrl } from '../support/nats.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { runCli } from './run-cli.js';

/** `recon eod …`, then the offline verifiers on what it saved, against a running engine's close. */
let t: TestEngine;
let env: Record<string, string>;
const dir = mkdtempSync(path.join(os.tmpdir(), 'recon-cli-eod-'));
const yesterday = new Date(Date.now() - 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
const cli = (...args: string[]) => runCli(args, env, dir);

beforeAll(async () => {
  writeFileSync(path.join(dir, 'key.pem'), generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  t = await startTestEngine({ EOD_SCHEDULER: 'off', EOD_REPORTS_DIR: path.join(dir, 'reports'), EOD_SIGNING_KEY_FILE: path.join(dir, 'key.pem') });
  env = { NATS_URL: sharedNatsUrl(), NAMESPACE: t.settings.NAMESPACE };
  // Yesterday: alice deposited 1.5 BTC and bob 2 BTC; the engine and the ledger agree.
  for (const [i, [userId, amount]] of ([['alice', '1.5'], ['bob', '2']] as const).entries()) {
    await t.pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
       VALUES ($1, $2, 'BTC', $3, 'deposit', $1, $4), ($1, 'house:custody', 'BTC', -$3::numeric, 'deposit', $1, $4)`,
      [`j${i}`, userId, amount, `${yesterday}T10:00:0${i}Z`],
    );
    await jetstream(t.client).publish(t.names.meBalanceSubject(userId), JSON.stringify({ seq: i + 1, userId, currency: 'BTC', total: amount, locked: '0', available: amount, ts: `${yesterday}T10:00:0${i}Z` }));
  }
});
afterAll(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('recon balance adjust (against a running engine)', () => {
  it('posts once per key (the same entry again), refuses the key with other content (3), and a malformed amount before sending (2)', async () => {
    const unknown = await cli('balance', 'adjust', 'alice', 'BTC', '-0.25', '--reason', 'r', '--actor', 'ops-1', '--key', 't0');
    expect(unknown.code).toBe(2); // INVALID_REQUEST: no such account
    await t.admin('account.create', { userId: 'alice' });
    const pending = await cli('balance', 'adjust', 'alice', 'BTC', '-0.25', '--reason', 'r', '--actor', 'ops-1', '--key', 't0', '--json');
    expect(pending.code).toBe(3); // not in a state that takes adjustments
    expect(pending.json<{ error: { code: string } }>().error.code).toBe('FORBIDDEN_TRANSITION');
    await t.admin('account.transition', { userId: 'alice', target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' });
    const first = await cli('balance', 'adjust', 'alice', 'BTC', '-0.25', '--reason', 'ticket 17: double credit', '--actor', 'ops-1', '--key', 't17', '--json');
    expect(first.code, first.stderr).toBe(0);
    const entryId = first.json<{ entryId: string }>().entryId;
    expect(entryId).toEqual(expect.any(String));
    const again = await cli('balance', 'adjust', 'alice', 'BTC', '-0.25', '--reason', 'ticket 17: double credit', '--actor', 'ops-1', '--key', 't17', '--json');
    expect(again.json<{ entryId: string }>().entryId).toBe(entryId);
    const conflict = await cli('balance', 'adjust', 'alice', 'BTC', '-0.5', '--reason', 'ticket 17: double credit', '--actor', 'ops-1', '--key', 't17', '--json');
    expect(conflict.code).toBe(3);
    expect(conflict.json<{ error: { code: string } }>().error.code).toBe('CONFLICT');
    expect((await cli('balance', 'adjust', 'alice', 'BTC', '1e3', '--reason', 'r', '--actor', 'ops-1', '--key', 'k2')).code).toBe(2);
    const rows = await t.pool.query<{ user_id: string; amount: string }>(`SELECT user_id, amount::text FROM ledger_entries WHERE reference_type = 'admin_adjustment' ORDER BY user_id`);
    expect(rows.rows.map((r) => [r.user_id, Number(r.amount)])).toEqual([['alice', -0.25], ['house:adjustments', 0.25]]);
  });
});

describe('recon eod (against a running engine)', () => {
  it('runs the close to its seal, reads it, saves the report and a proof, and both verify offline', async () => {
    const run = await cli('eod', 'run', yesterday, '--json');
    expect(run.code, run.stderr).toBe(0);
    const sealed = run.json<{ date: string; status: string; steps: Array<{ name: string; status: string; attempts: number }> }>();
    expect(sealed).toMatchObject({ date: yesterday, status: 'sealed' });
    expect(sealed.steps.find((s) => s.name === 'balance_snapshot')).toMatchObject({ status: 'completed', attempts: 1 });
    expect(await t.admin('eod.status', { date: yesterday })).toEqual(sealed);

    const status = await cli('eod', 'status', yesterday);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^${yesterday}: sealed`));
    expect(status.stdout).toMatch(/balance_snapshot.*completed/);

    const report = await cli('eod', 'report', yesterday, '--out', 'report.json', '--json');
    expect(report.code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8'))).toEqual(report.json());
    expect(report.json()).toMatchObject({ date: yesterday, report: { liabilities: [{ currency: 'BTC', total: '3.5', leafCount: 2 }] } });

    const proof = await cli('eod', 'proof', yesterday, 'alice', 'BTC', '--out', 'alice-BTC.json', '--json');
    expect(proof.code).toBe(0);
    expect(proof.json()).toMatchObject({ userId: 'alice', currency: 'BTC', balance: '1.5', total: '3.5' });

    const verified = await cli('proof', 'verify', 'alice-BTC.json', '--report', 'report.json', '--json');
    expect(verified.code, verified.stdout).toBe(0);
    expect((await cli('report', 'verify', 'report.json')).code).toBe(0);
  });

  it('answers errors with their exit codes: no proof for a stranger (3), a day that cannot be closed (2)', async () => {
    const stranger = await cli('eod', 'proof', yesterday, 'nobody', 'BTC', '--json');
    expect(stranger.code).toBe(3);
    expect(stranger.json<{ error: { code: string } }>().error.code).toBe('NOT_FOUND');
    const tomorrow = new Date(Date.now() + 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
    const future = await cli('eod', 'run', tomorrow, '--json');
    expect(future.code).toBe(2);
    expect(future.json<{ error: { code: string } }>().error.code).toBe('INVALID_REQUEST');
  });
});

import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { until } from '../support/until.js';
import { runCli } from './run-cli.js';

let t: TestEngine;
let env: Record<string, string>;
const cli = (...args: string[]) => runCli(args, env);

beforeAll(async () => {
  t = await startTestEngine({ RECON_GRACE_MS: '200' });
  env = { NATS_URL: sharedNatsUrl(), NAMESPACE: t.settings.NAMESPACE };
});
afterAll(async () => {
  await t?.close();
});

describe('recon account (against a running engine)', () => {
  it('creates, moves, reads and lists an account; --json is one document', async () => {
    const created = await cli('account', 'create', 'alice', '--json');
    expect(created.code).toBe(0);
    expect(created.json()).toEqual({ userId: 'alice', state: 'pending_kyc', revision: expect.any(Number) });

    const moved = await cli('account', 'transition', 'alice', 'kyc_approved', '--reason', 'kyc_pass', '--authority', 'system', '--actor', 'kyc-svc', '--json');
    expect(moved.code).toBe(0);
    expect(moved.json()).toMatchObject({ userId: 'alice', from: 'pending_kyc', to: 'kyc_approved', transitionId: expect.any(String) });

    const got = await cli('account', 'get', 'alice', '--json');
    expect(got.code).toBe(0);
    expect(got.json()).toMatchObject({ userId: 'alice', state: 'kyc_approved', capabilities: { trade: false, withdraw: false, deposit: true } });
    // What the CLI printed is what the engine answers.
    expect(got.json()).toEqual(await t.admin('account.get', { userId: 'alice' }));

    const history = await cli('account', 'history', 'alice', '--json');
    expect(history.code).toBe(0);
    expect(history.json<{ transitions: Array<{ to: string; actorId: string }> }>().transitions.map((x) => [x.to, x.actorId])).toEqual([['pending_kyc', 'alice'], ['kyc_approved', 'kyc-svc']]);
  });

  it('prints a table for people', async () => {
    const human = await cli('account', 'history', 'alice');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/pending_kyc.*kyc_approved.*kyc_pass.*system.*kyc-svc/);
    expect(() => JSON.parse(human.stdout)).toThrow();
  });

  it('exits 3 when the engine answers an error, with the error as the JSON document', async () => {
    const missing = await cli('account', 'get', 'nobody', '--json');
    expect(missing.code).toBe(3);
    expect(missing.json()).toEqual({ error: { code: 'NOT_FOUND', message: expect.stringContaining('nobody') } });

    const forbidden = await cli('account', 'transition', 'alice', 'closed', '--reason', 'bye', '--authority', 'system', '--actor', 'x', '--json');
    expect(forbidden.code).toBe(3);
    expect(forbidden.json<{ error: { code: string } }>().error.code).toBe('FORBIDDEN_TRANSITION');
    expect((await cli('account', 'get', 'alice', '--json')).json()).toMatchObject({ state: 'kyc_approved' });
  });

  it('exits 2 on bad usage or bad input, before anything is sent', async () => {
    const missingOption = await cli('account', 'transition', 'alice', 'active', '--authority', 'system', '--actor', 'x');
    expect(missingOption.code).toBe(2);
    expect(missingOption.stderr).toMatch(/--reason/);
    const badTarget = await cli('account', 'transition', 'alice', 'frozen', '--reason', 'r', '--authority', 'system', '--actor', 'x', '--json');
    expect(badTarget.code).toBe(2);
    expect(badTarget.json<{ error: { code: string; message: string } }>().error.message).toMatch(/target state "frozen"/);
    const badUser = await cli('account', 'get', 'no spaces allowed');
    expect(badUser.code).toBe(2);
    expect((await cli('nonsense')).code).toBe(2);
    expect((await cli('account', 'get', 'alice')).stdout).toMatch(/kyc_approved/);
  });
});

describe('recon status, breaks, ack, accept (against a running engine)', () => {
  it('lists the boundaries, then a live break, which an operator acknowledges and accepts', async () => {
    const status = await cli('status', '--json');
    expect(status.code).toBe(0);
    expect(status.json<{ boundaries: Array<{ name: string }> }>().boundaries.map((b) => b.name)).toEqual(['me_db', 'db_custody', 'db_chain']);

    // The matching engine says bob holds 1 BTC; the ledger has nothing: a me_db break after the grace window.
    await jetstream(t.client).publish(t.names.meBalanceSubject('bob'), JSON.stringify({ seq: 1, userId: 'bob', currency: 'BTC', total: '1', locked: '0', available: '1', ts: new Date().toISOString() }));
    const breaks = await until('a live break', async () => {
      const listed = await cli('breaks', '--json');
      const found = listed.json<{ breaks: Array<{ breakId: string; userId: string; delta: string; status: string }> }>().breaks;
      return found.length > 0 ? found : null;
    });
    expect(breaks[0]).toMatchObject({ userId: 'bob', status: 'open' });
    const id = breaks[0]!.breakId;

    const acked = await cli('ack', id, '--actor', 'ops-1', '--json');
    expect(acked.code).toBe(0);
    expect(acked.json()).toMatchObject({ breakId: id, status: 'acknowledged' });
    const accepted = await cli('accept', id, '--actor', 'ops-1', '--reason', 'test: known difference', '--boundary', 'me_db', '--json');
    expect(accepted.code).toBe(0);
    expect(accepted.json()).toMatchObject({ breakId: id, status: 'accepted' });
    const parked = await cli('parked', '--json');
    expect(parked.code).toBe(0);
    expect(parked.json()).toEqual({ parked: [] });
    expect((await cli('parked', '--limit', '0')).code).toBe(2);
    // No sequence fault here: the engine answers, and the CLI carries its answer and code through.
    const rebaseline = await cli('rebaseline', 'me_db', '--actor', 'ops-1', '--reason', 'test', '--json');
    expect(rebaseline.json()).toMatchObject(rebaseline.code === 0 ? { boundary: 'me_db' } : { error: { code: rebaseline.code === 2 ? 'INVALID_REQUEST' : expect.any(String) } });
    expect((await cli('rebaseline', 'me_db', '--actor', 'ops-1')).code).toBe(2);
    const noReason = await cli('accept', id, '--actor', 'ops-1');
    expect(noReason.code).toBe(2);
    const unknown = await cli('ack', '00000000-0000-4000-8000-000000000000', '--actor', 'ops-1', '--json');
    expect(unknown.code).toBe(3);
    expect(unknown.json<{ error: { code: string } }>().error.code).toBe('NOT_FOUND');
  });
});

describe('recon audit (against a running engine)', () => {
  it('replays one account and verifies them all; a tampered audit row is named, exit 1', async () => {
    const replay = await cli('audit', 'replay', 'alice', '--json');
    expect(replay.code).toBe(0);
    expect(replay.json()).toMatchObject({ userId: 'alice', matchesKv: true, matchesDb: true, state: 'kyc_approved' });

    await t.admin('account.create', { userId: 'carol' });
    await t.admin('account.transition', { userId: 'carol', target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' });
    await t.admin('account.transition', { userId: 'carol', target: 'active', reasonCode: 'first_deposit', authority: 'system', actorId: 'ledger' });
    const clean = await cli('audit', 'verify', '--json');
    expect(clean.code).toBe(0);
    expect(clean.json()).toEqual({ accounts: 2, matching: 2, mismatched: [] });

    // A superuser bypasses the append-only trigger and rewrites who approved carol.
    await t.pool.query('ALTER TABLE account_state_transitions DISABLE TRIGGER account_state_transitions_no_update_delete');
    await t.pool.query("UPDATE account_state_transitions SET actor_id = 'ops-9' WHERE user_id = 'carol' AND seq = 2");
    await t.pool.query('ALTER TABLE account_state_transitions ENABLE TRIGGER account_state_transitions_no_update_delete');
    const tampered = await cli('audit', 'verify', '--json');
    expect(tampered.code).toBe(1);
    const transitionId = (await t.pool.query<{ transition_id: string }>("SELECT transition_id FROM account_state_transitions WHERE user_id = 'carol' AND seq = 2")).rows[0]!.transition_id;
    expect(tampered.json()).toEqual({
      accounts: 2,
      matching: 1,
      mismatched: [{ userId: 'carol', firstDifference: { seq: 2, transitionId, reason: expect.stringMatching(/hash does not match/) } }],
    });
    const human = await cli('audit', 'verify');
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/carol/);
    expect(human.stdout).toMatch(/1 mismatched/);
  });
});

describe('admin.audit.verify (the endpoint behind recon audit verify)', () => {
  it('pages by account id, and finds an account that has a KV entry but no history', async () => {
    const kv = await new Kvm(t.client).open(t.names.accountsBucket);
    const alice = await kv.get('alice');
    await kv.put('ghost', alice!.string());
    type Page = { accounts: number; matching: number; mismatched: Array<{ userId: string; firstDifference: { seq: number; reason: string } }>; total: number; next: string | null };
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    let mismatched: Page['mismatched'] = [];
    do {
      const page = (await t.admin('audit.verify', { limit: 1, ...(after ? { after } : {}) })) as Page;
      pages++;
      // The one account with only a KV entry is found (and counted) on the first page.
      expect(page.total).toBe(pages === 1 ? 3 : 2);
      mismatched = [...mismatched, ...page.mismatched];
      seen.push(String(page.accounts));
      after = page.next;
    } while (after !== null && pages < 10);
    expect(pages).toBe(3);
    expect(mismatched.map((m) => m.userId).sort()).toEqual(['carol', 'ghost']);
    expect(mismatched.find((m) => m.userId === 'ghost')!.firstDifference).toMatchObject({ seq: 1, reason: 'KV is at transition 2, the event stream at 0' });
    expect(await t.admin('audit.verify', { limit: 0 })).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
  });
});

describe('unreachable', () => {
  it('exits 4 naming NATS, the URL and the setting when NATS does not answer', async () => {
    const run = await runCli(['account', 'get', 'alice', '--json'], { NATS_URL: 'nats://127.0.0.1:1' });
    expect(run.code).toBe(4);
    expect(run.json()).toEqual({ error: { code: 'UNREACHABLE', message: 'cannot reach NATS at nats://127.0.0.1:1 (NATS_URL): connection refused' } });
  });

  it('exits 4 naming an unreadable creds file and its setting', async () => {
    const run = await runCli(['status'], { NATS_URL: sharedNatsUrl(), NATS_CREDS_FILE: '/nonexistent/recon.creds' });
    expect(run.code).toBe(4);
    expect(run.stderr).toBe('recon: cannot read the NATS credentials file /nonexistent/recon.creds (NATS_CREDS_FILE): ENOENT\n');
  });

  it('exits 4 when no engine serves the namespace', async () => {
    const run = await runCli(['status'], { NATS_URL: sharedNatsUrl(), NAMESPACE: testNamespace() });
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/no engine answers .*admin\.recon\.status.*NAMESPACE/);
  });
});

describe('--help', () => {
  it('every command has help with an example, exit 0', async () => {
    const commands = [['account'], ['balance'], ['eod'], ['report'], ['proof'], ['audit'], ['account', 'create'], ['account', 'get'], ['account', 'transition'], ['account', 'history'], ['balance', 'adjust'], ['status'], ['breaks'], ['parked'], ['rebaseline'], ['ack'], ['accept'],
      ['eod', 'run'], ['eod', 'status'], ['eod', 'report'], ['eod', 'proof'], ['report', 'verify'], ['proof', 'verify'], ['audit', 'replay'], ['audit', 'verify'], ['start']];
    // A few at a time: each is a process.
    for (let i = 0; i < commands.length; i += 4) {
      await Promise.all(commands.slice(i, i + 4).map(async (command) => {
        const help = await cli(...command, '--help');
        expect(help.code, command.join(' ')).toBe(0);
        expect(help.stdout, command.join(' ')).toMatch(/Example:\n {2}\$ .*recon /);
        const group = command.length === 1 && ['account', 'balance', 'eod', 'report', 'proof', 'audit'].includes(command[0]!);
        if (!group && command[0] !== 'start') expect(help.stdout, command.join(' ')).toMatch(/--json/);
      }));
    }
  }, 120_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownAdminInfo } from '../support/admin-info.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine();
});
afterAll(async () => {
  await t?.close();
});

const as = <T>(value: unknown): T => value as T;
type ErrorReply = { error: { code: string; message: string } };

describe('admin.account.* (docs/contract.md §2)', () => {
  it('creates an account in pending_kyc and reads it back with its capabilities', async () => {
    const created = await t.admin('account.create', { userId: 'alice' });
    expect(created).toEqual({ userId: 'alice', state: 'pending_kyc', revision: expect.any(Number) });

    const got = await t.admin('account.get', { userId: 'alice' });
    expect(got).toEqual({
      userId: 'alice',
      state: 'pending_kyc',
      revision: as<{ revision: number }>(created).revision,
      capabilities: { trade: false, withdraw: false, deposit: false },
    });
  });

  it('walks allowed edges, returning from, to, revision and transitionId', async () => {
    await t.admin('account.create', { userId: 'bob' });
    const approved = as<{ revision: number }>(
      await t.admin('account.transition', { userId: 'bob', target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc-svc' }),
    );
    expect(approved).toEqual({ userId: 'bob', from: 'pending_kyc', to: 'kyc_approved', revision: expect.any(Number), transitionId: expect.any(String) });
    const active = await t.admin('account.transition', { userId: 'bob', target: 'active', reasonCode: 'first_deposit', authority: 'system', actorId: 'ledger' });
    expect(active).toMatchObject({ from: 'kyc_approved', to: 'active' });
    expect(as<{ revision: number }>(active).revision).toBeGreaterThan(approved.revision);

    const got = await t.admin('account.get', { userId: 'bob' });
    expect(got).toMatchObject({ state: 'active', capabilities: { trade: true, withdraw: true, deposit: true } });

    const history = as<{ transitions: unknown[] }>(await t.admin('account.history', { userId: 'bob' }));
    expect(history.transitions).toEqual([
      { from: null, to: 'pending_kyc', reasonCode: 'signup', authority: 'self', actorId: 'bob', at: expect.any(String) },
      { from: 'pending_kyc', to: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc-svc', at: expect.any(String) },
      { from: 'kyc_approved', to: 'active', reasonCode: 'first_deposit', authority: 'system', actorId: 'ledger', at: expect.any(String) },
    ]);
  });

  it('refuses a forbidden edge with FORBIDDEN_TRANSITION and changes nothing', async () => {
    await t.admin('account.create', { userId: 'carol' });
    const before = await t.admin('account.get', { userId: 'carol' });
    const reply = as<ErrorReply>(
      await t.admin('account.transition', { userId: 'carol', target: 'active', reasonCode: 'skip_kyc', authority: 'admin', actorId: 'ops-1' }),
    );
    expect(reply.error.code).toBe('FORBIDDEN_TRANSITION');
    expect(reply.error.message).toMatch(/pending_kyc -> active/);
    expect(await t.admin('account.get', { userId: 'carol' })).toEqual(before);
    const rows = await t.pool.query('SELECT count(*)::int AS n FROM account_state_transitions WHERE user_id = $1', ['carol']);
    expect(rows.rows[0].n).toBe(1);
    // Recorded as a rejected attempt, not as an audit row.
    const rejected = await t.pool.query('SELECT error_code FROM account_command_rejections WHERE user_id = $1', ['carol']);
    expect(rejected.rows).toEqual([{ error_code: 'FORBIDDEN_TRANSITION' }]);
  });

  it('answers CONFLICT for a second create and NOT_FOUND for an unknown account', async () => {
    await t.admin('account.create', { userId: 'dave' });
    expect(as<ErrorReply>(await t.admin('account.create', { userId: 'dave' })).error.code).toBe('CONFLICT');
    expect(as<ErrorReply>(await t.admin('account.get', { userId: 'nobody' })).error.code).toBe('NOT_FOUND');
    expect(as<ErrorReply>(await t.admin('account.history', { userId: 'nobody' })).error.code).toBe('NOT_FOUND');
    const transition = await t.admin('account.transition', { userId: 'nobody', target: 'kyc_approved', reasonCode: 'x', authority: 'admin', actorId: 'ops' });
    expect(as<ErrorReply>(transition).error.code).toBe('NOT_FOUND');
  });

  it('is idempotent by commandId: a repeat changes nothing and yields the same answer', async () => {
    await t.admin('account.create', { userId: 'erin' });
    const request = { userId: 'erin', target: 'kyc_rejected', reasonCode: 'doc_blurry', authority: 'admin', actorId: 'ops-2', commandId: 'cmd-erin-1' };
    const first = await t.admin('account.transition', request);
    const second = await t.admin('account.transition', request);
    expect(second).toEqual(first);
    const history = as<{ transitions: unknown[] }>(await t.admin('account.history', { userId: 'erin' }));
    expect(history.transitions).toHaveLength(2);

    // A rejected command id is answered the same way too.
    const bad = { userId: 'erin', target: 'active', reasonCode: 'x', authority: 'admin', actorId: 'ops-2', commandId: 'cmd-erin-2' };
    const refused = await t.admin('account.transition', bad);
    expect(await t.admin('account.transition', bad)).toEqual(refused);
  });

  it('publishes account.<event>.<userId> once per accepted transition', async () => {
    await t.admin('account.create', { userId: 'frank' });
    await t.admin('account.transition', { userId: 'frank', target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' });
    await t.admin('account.transition', { userId: 'frank', target: 'banned', reasonCode: 'fraud', authority: 'admin', actorId: 'ops' });
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const jsm = await jetstreamManager(t.client);
    const subjects = await jsm.streams.info(t.names.eventStream, { subjects_filter: t.names.accountEventSubject('*', 'frank') });
    expect(subjects.state.subjects).toEqual({
      [t.names.accountEventSubject('created', 'frank')]: 1,
      [t.names.accountEventSubject('kyc_approved', 'frank')]: 1,
      [t.names.accountEventSubject('banned', 'frank')]: 1,
    });
  });

  it('rebuilds an account from its JetStream events and checks it against KV and the audit table', async () => {
    await t.admin('account.create', { userId: 'gina' });
    await t.admin('account.transition', { userId: 'gina', target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' });
    const replay = as<{ transitions: unknown[]; matchesKv: boolean; matchesDb: boolean }>(await t.admin('audit.replay', { userId: 'gina' }));
    expect(replay).toMatchObject({ userId: 'gina', matchesKv: true, matchesDb: true });
    expect(replay.transitions).toHaveLength(2);
  });
});

describe('recon-admin micro service discovery', () => {
  it('answers $SRV.PING, $SRV.INFO and $SRV.STATS with its endpoints', async () => {
    const ping = (await t.client.request('$SRV.PING.recon-admin', '', { timeout: 5_000 })).json<{ name: string; type: string }>();
    expect(ping).toMatchObject({ name: 'recon-admin', type: 'io.nats.micro.v1.ping_response' });

    // Several test files may run a recon-admin at once: find ours by its endpoint subjects.
    const ours = await ownAdminInfo(t.client, t.names);
    expect(ours?.name).toBe('recon-admin');
    expect(ours?.endpoints.map((e) => e.subject)).toEqual(
      expect.arrayContaining(['account.create', 'account.get', 'account.transition', 'account.history', 'audit.replay'].map((s) => `${t.names.adminPrefix}.${s}`)),
    );

    const stats = (await t.client.request('$SRV.STATS.recon-admin', '', { timeout: 5_000 })).json<{ type: string }>();
    expect(stats.type).toBe('io.nats.micro.v1.stats_response');
  });
});

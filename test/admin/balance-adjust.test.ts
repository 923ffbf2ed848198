import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../src/db/transaction.js';
import { adjustBalanceEffect, recordEngineCommands } from '../../src/recon/engine-command-outbox.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { until } from '../support/until.js';

let t: TestEngine;
type ErrorReply = { error: { code: string; message: string } };

async function activate(userId: string): Promise<void> {
  await t.admin('account.create', { userId });
  await t.admin('account.transition', { userId, target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' });
  await t.admin('account.transition', { userId, target: 'active', reasonCode: 'first_deposit', authority: 'system', actorId: 'ledger' });
}

async function ledgerRows(): Promise<Array<{ journal_id: string; user_id: string; currency: string; amount: string; reference_type: string; reference_id: string }>> {
  const r = await t.pool.query('SELECT journal_id, user_id, currency, amount::text, reference_type, reference_id FROM ledger_entries ORDER BY id');
  return r.rows;
}

beforeAll(async () => {
  t = await startTestEngine();
  await activate('alice');
  await t.admin('account.create', { userId: 'pending' });
});
afterAll(async () => {
  await t?.close();
});

const request = { userId: 'alice', currency: 'BTC', amount: '10.5', reason: 'ticket 4711: deposit credited twice on chain', actorId: 'ops-ann', idempotencyKey: 'adj-1' };

describe('admin.balance.adjust (docs/contract.md)', () => {
  it('posts one balanced journal against house:adjustments, keeps reason and actor, and tells the engine', async () => {
    const reply = await t.admin('balance.adjust', request);
    expect(reply).toEqual({ entryId: 'admin_adjustment:adj-1' });
    expect(await ledgerRows()).toEqual([
      { journal_id: 'admin_adjustment:adj-1', user_id: 'alice', currency: 'BTC', amount: '10.500000000000000000', reference_type: 'admin_adjustment', reference_id: 'adj-1' },
      { journal_id: 'admin_adjustment:adj-1', user_id: 'house:adjustments', currency: 'BTC', amount: '-10.500000000000000000', reference_type: 'admin_adjustment', reference_id: 'adj-1' },
    ]);
    const kept = await t.pool.query('SELECT reason, actor_id, account_state FROM admin_adjustments WHERE idempotency_key = $1', ['adj-1']);
    expect(kept.rows).toEqual([{ reason: request.reason, actor_id: 'ops-ann', account_state: 'active' }]);
    const jsm = await jetstreamManager(t.client);
    const command = await jsm.streams.getMessage(t.names.meCommandStream, { last_by_subj: t.names.meAdjustBalanceSubject('alice') });
    expect(command!.json()).toMatchObject({ commandId: 'admin_adjustment:adj-1', userId: 'alice', currency: 'BTC', amount: '10.5' });
    // Recorded with the journal, and done once published.
    const outbox = await t.pool.query('SELECT boundary, done_at IS NOT NULL AS done FROM recon_outbox WHERE msg_id = $1', ['admin_adjustment:adj-1']);
    expect(outbox.rows).toEqual([{ boundary: 'matching_engine', done: true }]);
  });

  it('an engine credit left pending by a crash between the commit and the publish is sent by the leader\'s drainer', async () => {
    const credit = adjustBalanceEffect(t.names, { commandId: 'admin_adjustment:crashed', userId: 'alice', currency: 'ETH', amount: '1.25' }, new Date().toISOString());
    await withTransaction(t.pool, (client) => recordEngineCommands(client, [credit]));
    const jsm = await jetstreamManager(t.client);
    const sent = await until('the pending credit to reach the matching engine', async () =>
      jsm.streams.getMessage(t.names.meCommandStream, { last_by_subj: t.names.meAdjustBalanceSubject('alice') })
        .then((m) => (m?.json<{ commandId: string }>().commandId === 'admin_adjustment:crashed' ? m : null), () => null));
    expect(sent.json()).toMatchObject({ commandId: 'admin_adjustment:crashed', userId: 'alice', currency: 'ETH', amount: '1.25' });
    const row = await until('the outbox row to be done', async () =>
      (await t.pool.query('SELECT done_at FROM recon_outbox WHERE msg_id = $1 AND done_at IS NOT NULL', ['admin_adjustment:crashed'])).rows[0]);
    expect(row.done_at).toBeInstanceOf(Date);
  });

  it('the same key twice answers the same entryId and posts once; other content under the key is CONFLICT', async () => {
    expect(await t.admin('balance.adjust', request)).toEqual({ entryId: 'admin_adjustment:adj-1' });
    expect((await t.admin('balance.adjust', { ...request, amount: '10.6' }) as ErrorReply).error.code).toBe('CONFLICT');
    expect((await t.admin('balance.adjust', { ...request, reason: 'another' }) as ErrorReply).error.code).toBe('CONFLICT');
    expect(await ledgerRows()).toHaveLength(2);
  });

  it('a debit posts the negative leg; one beyond the balance is refused', async () => {
    expect(await t.admin('balance.adjust', { ...request, amount: '-0.25', idempotencyKey: 'adj-2' })).toEqual({ entryId: 'admin_adjustment:adj-2' });
    const over = (await t.admin('balance.adjust', { ...request, amount: '-10.250000000000000001', idempotencyKey: 'adj-3' })) as ErrorReply;
    expect(over.error.code).toBe('INVALID_REQUEST');
    const sums = await t.pool.query("SELECT currency, sum(amount)::text AS s FROM ledger_entries GROUP BY journal_id, currency");
    expect(sums.rows.every((r: { s: string }) => Number(r.s) === 0)).toBe(true);
    const alice = await t.pool.query("SELECT sum(amount)::text AS s FROM ledger_entries WHERE user_id = 'alice'");
    expect(alice.rows[0].s).toBe('10.250000000000000000');
  });

  it('refuses bad input and forbidden states, writing nothing', async () => {
    const before = await ledgerRows();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ amount: '1e3' }, 'INVALID_REQUEST'],
      [{ amount: 'ten' }, 'INVALID_REQUEST'],
      [{ amount: '+1' }, 'INVALID_REQUEST'],
      [{ amount: ' 1' }, 'INVALID_REQUEST'],
      [{ amount: 1 }, 'INVALID_REQUEST'],
      [{ amount: '0.000' }, 'INVALID_REQUEST'],
      [{ amount: '1.0000000000000000001' }, 'INVALID_REQUEST'],
      [{ reason: '' }, 'INVALID_REQUEST'],
      [{ reason: '   ' }, 'INVALID_REQUEST'],
      [{ userId: 'bad id!' }, 'INVALID_REQUEST'],
      [{ userId: 'nobody' }, 'INVALID_REQUEST'],
      [{ idempotencyKey: '' }, 'INVALID_REQUEST'],
      [{ actorId: '' }, 'INVALID_REQUEST'],
      [{ currency: '' }, 'INVALID_REQUEST'],
      [{ userId: 'pending' }, 'FORBIDDEN_TRANSITION'],
    ];
    for (const [change, code] of cases) {
      const reply = (await t.admin('balance.adjust', { ...request, idempotencyKey: 'adj-bad', ...change })) as ErrorReply;
      expect([change, reply.error?.code]).toEqual([change, code]);
    }
    expect((await t.admin('balance.adjust', 'not json') as ErrorReply).error.code).toBe('INVALID_REQUEST');
    expect(await ledgerRows()).toEqual(before);
    const kept = await t.pool.query('SELECT count(*)::int AS n FROM admin_adjustments');
    expect(kept.rows[0].n).toBe(2);
  });
});

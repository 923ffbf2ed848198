import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/actors/account-record.js';
import { accountHistory } from '../../src/actors/audit-log.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine();
  await t.admin('account.create', { userId: 'mallory' });
  await t.admin('account.transition', { userId: 'mallory', target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' });
  await t.admin('account.transition', { userId: 'mallory', target: 'active', reasonCode: 'first_deposit', authority: 'system', actorId: 'ledger' });
  await t.admin('account.transition', { userId: 'mallory', target: 'suspended', reasonCode: 'sanctions_hit', authority: 'system', actorId: 'screening' });
});
afterAll(async () => {
  await t?.close();
});

describe('account_state_transitions is append-only and tamper-evident', () => {
  it('refuses UPDATE, DELETE and TRUNCATE', async () => {
    await expect(t.pool.query("UPDATE account_state_transitions SET reason_code = 'nothing_to_see' WHERE user_id = 'mallory'")).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(t.pool.query("DELETE FROM account_state_transitions WHERE user_id = 'mallory'")).rejects.toThrow(/append-only: DELETE refused/);
    await expect(t.pool.query('TRUNCATE account_state_transitions')).rejects.toThrow(/append-only: TRUNCATE refused/);
    const rows = await accountHistory(t.pool, 'mallory');
    expect(rows).toHaveLength(4);
    expect(verifyChain(rows)).toBeNull();
  });

  it('detects an edited row through the hash chain, even when the triggers were bypassed', async () => {
    // A superuser can disable triggers; the chain is what still gives the edit away.
    await t.pool.query('ALTER TABLE account_state_transitions DISABLE TRIGGER account_state_transitions_no_update_delete');
    await t.pool.query("UPDATE account_state_transitions SET authority = 'admin', actor_id = 'ops-9' WHERE user_id = 'mallory' AND seq = 4");
    await t.pool.query('ALTER TABLE account_state_transitions ENABLE TRIGGER account_state_transitions_no_update_delete');

    expect(verifyChain(await accountHistory(t.pool, 'mallory'))).toEqual({ seq: 4, reason: 'hash does not match the row' });
    const replay = (await t.admin('audit.replay', { userId: 'mallory' })) as { matchesDb: boolean; matchesKv: boolean; chainBreak: unknown };
    expect(replay.matchesDb).toBe(false);
    expect(replay.matchesKv).toBe(true);
    expect(replay.chainBreak).toEqual({ seq: 4, reason: 'hash does not match the row' });
  });

  it('detects a deleted row: the next row no longer chains', async () => {
    await t.admin('account.create', { userId: 'trent' });
    await t.admin('account.transition', { userId: 'trent', target: 'kyc_rejected', reasonCode: 'kyc_fail', authority: 'system', actorId: 'kyc' });
    await t.admin('account.transition', { userId: 'trent', target: 'pending_kyc', reasonCode: 'resubmit', authority: 'self', actorId: 'trent' });
    await t.pool.query('ALTER TABLE account_state_transitions DISABLE TRIGGER account_state_transitions_no_update_delete');
    await t.pool.query("DELETE FROM account_state_transitions WHERE user_id = 'trent' AND seq = 2");
    await t.pool.query('ALTER TABLE account_state_transitions ENABLE TRIGGER account_state_transitions_no_update_delete');
    const rows = await accountHistory(t.pool, 'trent');
    expect(verifyChain(rows)).toEqual({ seq: 3, reason: 'expected seq 2' });
  });
});

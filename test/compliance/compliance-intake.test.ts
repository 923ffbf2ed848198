import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kvm } from '@nats-io/kv';
import { AccountCommandClient } from '../../src/actors/command-client.js';
import { ComplianceSimulator } from '../../src/adapters/compliance/simulator.js';
import { actOnComplianceEvent } from '../../src/compliance/compliance-intake.js';
import { silentLogger } from '../support/log.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { until } from '../support/until.js';

let t: TestEngine;
let sim: ComplianceSimulator;

async function account(userId: string, path: Array<[target: string, reasonCode: string]>): Promise<void> {
  await t.admin('account.create', { userId });
  for (const [target, reasonCode] of [['kyc_approved', 'kyc_pass'], ['active', 'first_deposit'], ...path]) {
    const reply = await t.admin('account.transition', { userId, target, reasonCode, authority: 'admin', actorId: 'ops' }) as { error?: unknown };
    if (reply.error) {
      // kyc_approved → active is the system's edge
      await t.admin('account.transition', { userId, target, reasonCode, authority: 'system', actorId: 'ledger' });
    }
  }
}

async function outcomes(): Promise<Array<{ kind: string; user_id: string; outcome: string; from_state: string | null; to_state: string | null }>> {
  const r = await t.pool.query('SELECT kind, user_id, outcome, from_state, to_state FROM compliance_events ORDER BY user_id, kind');
  return r.rows;
}

beforeAll(async () => {
  t = await startTestEngine();
  sim = new ComplianceSimulator(jetstream(t.client), t.names);
  await account('hit', []);
  await account('rekyc', [['suspended', 'kyc_reverification_required']]);
  await account('frozen', [['suspended', 'recon_freeze']]);
  await account('listed', [['suspended', 'sanctions_hit']]);
});
afterAll(async () => {
  await t?.close();
});

const state = async (userId: string): Promise<string> => ((await t.admin('account.get', { userId })) as { state: string }).state;

describe('compliance events (docs/contract.md)', () => {
  it('a sanctions hit suspends the account (authority system, audit row) and cancels its orders; a redelivery changes nothing', async () => {
    await sim.sanctionsHit('hit', 'OFAC-SDN', 'case-1', Date.parse('2026-11-30T09:00:00Z'));
    await until('hit suspended', async () => (await state('hit')) === 'suspended');
    // A provider re-send under another message id: the same event, so the same command id.
    await jetstream(t.client).publish(t.names.sanctionsHitSubject('hit'), JSON.stringify({ userId: 'hit', list: 'OFAC-SDN', reference: 'case-1', ts: '2026-11-30T09:00:00.000Z' }));
    await sim.sanctionsHit('nobody', 'EU', 'case-2');
    await until('three events handled', async () => (await t.pool.query('SELECT 1 FROM compliance_events')).rowCount === 2 && (await t.pool.query('SELECT 1 FROM compliance_events WHERE user_id = $1', ['nobody'])).rowCount === 1);
    const audit = await t.pool.query("SELECT from_state, to_state, authority, reason_code FROM account_state_transitions WHERE user_id = 'hit' AND to_state = 'suspended'");
    expect(audit.rows).toEqual([{ from_state: 'active', to_state: 'suspended', authority: 'system', reason_code: 'sanctions_hit' }]);
    const jsm = await jetstreamManager(t.client);
    const cancel = await jsm.streams.getMessage(t.names.meCommandStream, { last_by_subj: t.names.meCancelOrdersSubject('hit') });
    expect(cancel!.json()).toMatchObject({ userId: 'hit', reason: 'sanctions hit on OFAC-SDN (case-1)' });
    const info = await jsm.streams.info(t.names.meCommandStream);
    expect(info.state.messages).toBe(1); // the redelivery's cancel was deduplicated
  });

  it('KYC re-verification reactivates a re-KYC suspension only; the others are refused and kept for a person', async () => {
    await sim.kycReverified('rekyc', 'kyc-1');
    await sim.kycReverified('frozen', 'kyc-2');
    await sim.kycReverified('listed', 'kyc-3');
    await sim.kycReverified('hit', 'kyc-4');
    await until('four re-verifications handled', async () => (await t.pool.query("SELECT 1 FROM compliance_events WHERE kind = 'kyc_reverified'")).rowCount === 4);
    expect(await outcomes()).toEqual([
      { kind: 'kyc_reverified', user_id: 'frozen', outcome: 'refused', from_state: 'suspended', to_state: null },
      { kind: 'kyc_reverified', user_id: 'hit', outcome: 'refused', from_state: 'suspended', to_state: null },
      { kind: 'sanctions_hit', user_id: 'hit', outcome: 'applied', from_state: 'active', to_state: 'suspended' },
      { kind: 'kyc_reverified', user_id: 'listed', outcome: 'refused', from_state: 'suspended', to_state: null },
      { kind: 'sanctions_hit', user_id: 'nobody', outcome: 'unknown_account', from_state: null, to_state: null },
      { kind: 'kyc_reverified', user_id: 'rekyc', outcome: 'applied', from_state: 'suspended', to_state: 'active' },
    ]);
    expect([await state('rekyc'), await state('frozen'), await state('listed'), await state('hit')]).toEqual(['active', 'suspended', 'suspended', 'suspended']);
  });

  it('parks a malformed event with its reason', async () => {
    await jetstream(t.client).publish(t.names.sanctionsHitSubject('hit'), JSON.stringify({ userId: 'hit', list: '', reference: 'x', ts: 'yesterday' }));
    const parked = await until('parked', async () => (await t.pool.query<{ error: string }>('SELECT error FROM parked_commands')).rows[0]);
    expect(parked.error).toMatch(/^INVALID_SHAPE: list/);
  });

  it('with SANCTIONS_ACTION=restricted a hit restricts the account instead', async () => {
    await account('restrict-me', []);
    const js = jetstream(t.client);
    const deps = {
      js, jsm: await jetstreamManager(t.client), pool: t.pool, names: t.names, log: silentLogger(),
      settings: { ...t.settings, SANCTIONS_ACTION: 'restricted' as const },
      accounts: await new Kvm(t.client).open(t.names.accountsBucket),
      commands: new AccountCommandClient({ nc: t.client, js, pool: t.pool, names: t.names, partitions: t.settings.COMMAND_PARTITIONS, timeoutMs: 10_000 }),
    };
    const event = { kind: 'sanctions_hit' as const, userId: 'restrict-me', list: 'UN', reference: 'case-9', tsMs: Date.parse('2026-11-30T11:00:00Z') };
    expect(await actOnComplianceEvent(deps, event)).toEqual({ outcome: 'applied', detail: 'active → restricted' });
    expect(await actOnComplianceEvent(deps, event)).toEqual({ outcome: 'applied', detail: 'active → restricted' }); // the same event again: its recorded outcome
    expect(await state('restrict-me')).toBe('restricted');
  });
});

import { randomUUID } from 'node:crypto';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountActor } from '../../src/actors/account-actor.js';
import type { AccountCommand } from '../../src/actors/account-command.js';
import { genesisHash, newTransitionRow, type AccountRecord } from '../../src/actors/account-record.js';
import { AuditLogGroupCommit } from '../../src/actors/audit-group-commit.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { ensureAccountTopology, removeTopology } from '../../src/nats/topology.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';

/**
 * A signup handled by an incarnation that has not loaded its account skips the load (ADR 0032):
 * the compare-and-set on "no entry" is the existence check. Every case where the key has an entry
 * must still end as the ordinary path ends: a conflict, a repair of a crash, an answer as before.
 */
let database: TestDatabase;
let pool: Pool;
let nc: NatsConnection;
let js: JetStreamClient;
let accounts: KV;
let names: NatsNames;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool(database.url, 4);
  nc = await connect({ servers: sharedNatsUrl() });
  js = jetstream(nc);
  names = natsNames(testNamespace());
  ({ accounts } = await ensureAccountTopology(nc, names));
});

afterAll(async () => {
  await removeTopology(nc, names);
  await nc.close();
  await pool.end();
  await database.drop();
});

let audit: AuditLogGroupCommit;
/** A fresh incarnation, as the supervisor spawns one after a start, a passivation or a restart. */
const incarnation = (userId: string): AccountActor => {
  audit = new AuditLogGroupCommit(pool);
  return new AccountActor(userId, { pool, audit, accounts, js, names, coolingOffMs: 0, nowMs: () => Date.now() });
};
/** Whether the last incarnation loaded its account (the audited-seq lookup is part of a load). */
const loaded = (): boolean => audit.stats().seqs.items > 0;

const signup = (userId: string, commandId: string = randomUUID(), target: AccountCommand['target'] = 'pending_kyc'): AccountCommand =>
  ({ commandId, userId, kind: 'create', target, authority: 'self', reasonCode: 'signup', actorId: 'test' });

const auditRows = async (userId: string): Promise<Array<{ command_id: string; seq: number; transition_id: string }>> =>
  (await pool.query('SELECT command_id, seq, transition_id FROM account_state_transitions WHERE user_id = $1 ORDER BY seq', [userId])).rows;

const eventsOf = async (userId: string): Promise<number> => {
  const info = await (await js.jetstreamManager()).streams.info(names.eventStream, { subjects_filter: names.accountEventSubject('*', userId) });
  return Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
};

describe('a signup on an unloaded account', () => {
  it('creates the account: KV entry, one audit row, one event', async () => {
    const outcome = await incarnation('fresh').handle(signup('fresh', 'c-fresh'));
    expect(outcome).toMatchObject({ ok: true, from: null, to: 'pending_kyc' });
    expect(loaded()).toBe(false);
    const entry = await accounts.get('fresh');
    expect(entry?.json<AccountRecord>()).toMatchObject({ state: 'pending_kyc', seq: 1 });
    expect(await auditRows('fresh')).toEqual([expect.objectContaining({ command_id: 'c-fresh', seq: 1 })]);
    expect(await eventsOf('fresh')).toBe(1);
  });

  it('an existing account: CONFLICT from a fresh incarnation, nothing written', async () => {
    await incarnation('taken').handle(signup('taken'));
    const revision = (await accounts.get('taken'))?.revision;
    const outcome = await incarnation('taken').handle(signup('taken', 'c-again'));
    expect(outcome).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect(loaded()).toBe(true);
    expect((await accounts.get('taken'))?.revision).toBe(revision);
    expect((await auditRows('taken')).map((r) => r.command_id)).not.toContain('c-again');
  });

  it('the same signup again (a redelivery) answers as before from a fresh incarnation', async () => {
    const first = await incarnation('twice').handle(signup('twice', 'c-twice'));
    const again = await incarnation('twice').handle(signup('twice', 'c-twice'));
    expect(again).toEqual(first);
    expect(await auditRows('twice')).toHaveLength(1);
  });

  it('a crash after the KV write and before the audit row: the redelivery repairs and answers with the written transition', async () => {
    // What a killed engine leaves: the KV entry carrying the new row, no audit row, no event.
    const row = newTransitionRow({
      transitionId: randomUUID(), userId: 'crashed', seq: 1, commandId: 'c-crashed', from: null, to: 'pending_kyc',
      reasonCode: 'signup', authority: 'self', actorId: 'test', atMs: Date.now(), prevHash: genesisHash,
    });
    const record: AccountRecord = { userId: 'crashed', state: 'pending_kyc', closureRequestedAt: null, seq: 1, last: row };
    const revision = await accounts.create('crashed', JSON.stringify(record));
    const outcome = await incarnation('crashed').handle(signup('crashed', 'c-crashed'));
    expect(outcome).toEqual({ ok: true, userId: 'crashed', from: null, to: 'pending_kyc', revision, transitionId: row.transitionId });
    expect(loaded()).toBe(true);
    expect(await auditRows('crashed')).toEqual([{ command_id: 'c-crashed', seq: 1, transition_id: row.transitionId }]);
    expect(await eventsOf('crashed')).toBe(1);
    expect((await accounts.get('crashed'))?.revision).toBe(revision);
  });

  it('over a deleted KV entry: created on the entry\'s revision, as the load path does', async () => {
    const deletedAt = await accounts.put('gone', '{}');
    await accounts.delete('gone');
    const outcome = await incarnation('gone').handle(signup('gone', 'c-gone'));
    expect(outcome).toMatchObject({ ok: true, from: null, to: 'pending_kyc' });
    expect((await accounts.get('gone'))?.revision).toBeGreaterThan(deletedAt);
  });

  it('a target the FSM refuses from nothing: FORBIDDEN_TRANSITION, nothing written', async () => {
    const outcome = await incarnation('refused').handle(signup('refused', 'c-refused', 'active'));
    expect(outcome).toMatchObject({ ok: false, error: { code: 'FORBIDDEN_TRANSITION' } });
    expect(await accounts.get('refused')).toBeNull();
    expect(await auditRows('refused')).toEqual([]);
  });
});

import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from '../support/engine.js';

let t: TestEngine;

const longId = 'x'.repeat(65);
const valid = { userId: 'victim', target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' };

/** Bad bodies per endpoint: each must get INVALID_REQUEST and change nothing. */
const badRequests: Record<string, unknown[]> = {
  'account.create': ['', 'not json', '[1,2]', 'null', '42', {}, { userId: 42 }, { userId: '' }, { userId: longId }, { userId: 'has space' }, { userId: 'a.b' }, { userId: 'ok', actorId: '' }],
  'account.get': ['', '{oops', {}, { userId: null }, { userId: longId }, { userId: ['victim'] }, { userId: 'victim*' }],
  'account.history': ['', '"victim"', {}, { userId: 7 }, { userId: longId }, { userId: 'victim>' }],
  'account.transition': [
    '',
    '{"userId":',
    {},
    { ...valid, userId: undefined },
    { ...valid, target: undefined },
    { ...valid, target: 'frozen' },
    { ...valid, target: 'ACTIVE' },
    { ...valid, target: 3 },
    { ...valid, authority: 'root' },
    { ...valid, authority: undefined },
    { ...valid, reasonCode: '' },
    { ...valid, reasonCode: 'has space' },
    { ...valid, reasonCode: 'r'.repeat(65) },
    { ...valid, actorId: '' },
    { ...valid, actorId: 'a'.repeat(129) },
    { ...valid, userId: longId },
    { ...valid, commandId: '' },
    { ...valid, commandId: 'c'.repeat(129) },
    { ...valid, commandId: 12 },
  ],
  'audit.replay': ['', 'nope', {}, { userId: longId }, { userId: 'victim', from: 'yesterday' }, { userId: 'victim', from: '2026-01-02', to: '2026-01-01' }],
};

async function fingerprint(): Promise<unknown> {
  const jsm = await jetstreamManager(t.client);
  const [commands, events, kv, audit, rejections] = await Promise.all([
    jsm.streams.info(t.names.commandStream),
    jsm.streams.info(t.names.eventStream),
    jsm.streams.info(`KV_${t.names.accountsBucket}`),
    t.pool.query('SELECT count(*)::int AS n, max(id) AS last FROM account_state_transitions'),
    t.pool.query('SELECT count(*)::int AS n FROM account_command_rejections'),
  ]);
  return {
    commands: commands.state.last_seq,
    events: events.state.last_seq,
    kv: kv.state.last_seq,
    audit: audit.rows[0],
    rejections: rejections.rows[0],
    victim: await t.admin('account.get', { userId: 'victim' }),
  };
}

beforeAll(async () => {
  t = await startTestEngine();
  await t.admin('account.create', { userId: 'victim' });
});
afterAll(async () => {
  await t?.close();
});

describe('bad input on every admin endpoint', () => {
  const cases = Object.entries(badRequests).flatMap(([endpoint, bodies]) => bodies.map((body) => ({ endpoint, body })));

  it.each(cases)('$endpoint rejects $body', async ({ endpoint, body }) => {
    const before = await fingerprint();
    const reply = (await t.admin(endpoint, body)) as { error?: { code: string; message: string } };
    expect(reply.error?.code).toBe('INVALID_REQUEST');
    expect(reply.error?.message.length).toBeGreaterThan(5);
    expect(await fingerprint()).toEqual(before);
  });

  it('names the offending field', async () => {
    const reply = (await t.admin('account.transition', { ...valid, target: 'frozen' })) as { error: { message: string } };
    expect(reply.error.message).toMatch(/^target: /);
    const long = (await t.admin('account.get', { userId: longId })) as { error: { message: string } };
    expect(long.error.message).toMatch(/userId/);
  });
});

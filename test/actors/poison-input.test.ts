import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { Subscription } from '@nats-io/nats-core';
import { createInbox } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/actors/partition.js';
import { serveSnapshots } from '../../src/adapters/exchange-simulator/snapshot-server.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { silentLogger } from '../support/log.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { until } from '../support/until.js';

const partitions = 4;
let t: TestEngine;
let js: JetStreamClient;
const alerts: BreakAlert[] = [];
const subscriptions: Subscription[] = [];
let seq = 0;

const parkedWhere = async (clause: string, params: unknown[]) =>
  (await t.pool.query(`SELECT subject, payload, payload_bytes, error FROM parked_commands WHERE ${clause} ORDER BY id`, params)).rows as Array<{ subject: string; payload: string; payload_bytes: Buffer; error: string }>;

async function created(userId: string): Promise<boolean> {
  const reply = (await t.admin('account.create', { userId })) as { state?: string };
  return reply.state === 'pending_kyc';
}

const balance = (userId: string, total: string, at = ++seq) =>
  js.publish(t.names.meBalanceSubject(userId), JSON.stringify({ seq: at, userId, currency: 'BTC', total, locked: '0', available: total, ts: new Date().toISOString() }));

beforeAll(async () => {
  t = await startTestEngine({ COMMAND_PARTITIONS: String(partitions), RECON_GRACE_MS: '500' });
  js = jetstream(t.client);
  subscriptions.push(t.client.subscribe(t.names.reconAlertSubject('me_db'), { callback: (_e, m) => void alerts.push(m.json<BreakAlert>()) }));
  await until('leader', () => t.engine.isLeader());
});

afterAll(async () => {
  for (const s of subscriptions) s.unsubscribe();
  await t?.close();
});

describe('poison input never wedges anything', () => {
  it('a command with a NUL byte is parked with its exact bytes, and its partition keeps moving', async () => {
    const userId = 'nul1';
    const subject = t.names.commandSubject(partitionOf(userId, partitions), userId);
    const raw = new Uint8Array([...new TextEncoder().encode('{"commandId":"c'), 0, ...new TextEncoder().encode('","userId":"nul1"}')]);
    await js.publish(subject, raw);
    // A JSON-escaped NUL in the one free-text field: refused by the schema, parked, nothing written.
    await js.publish(subject, JSON.stringify({ commandId: 'nul-escaped', userId, kind: 'create', target: 'pending_kyc', authority: 'self', reasonCode: 'signup', actorId: 'a\u0000b' }));
    const rows = await until('both parked', async () => {
      const r = await parkedWhere('subject = $1', [subject]);
      return r.length >= 2 && r;
    }, 30_000);
    expect(rows[0]!.payload_bytes.toString("hex")).toBe(Buffer.from(raw).toString("hex"));
    expect(rows[0]!.payload).toContain('\\u0000');
    expect(rows[1]!.error).toMatch(/actorId: actorId must not contain control characters/);
    expect(await created('nul1')).toBe(true); // the same account, the same partition: applied
  });

  it('commands on a partition out of range or with extra tokens are parked (and answered) instead of sitting unread', async () => {
    const replyTo = createInbox();
    const replies: unknown[] = [];
    subscriptions.push(t.client.subscribe(replyTo, { callback: (_e, m) => void replies.push(m.json()) }));
    await t.client.flush();
    const outOfRange = t.names.subject('acct.cmd.99.stray1');
    const extra = t.names.subject(`acct.cmd.${partitionOf('stray2', partitions)}.stray2.extra`);
    const leadingZero = t.names.subject(`acct.cmd.0${partitionOf('stray3', partitions)}.stray3`);
    for (const [subject, userId] of [[outOfRange, 'stray1'], [extra, 'stray2'], [leadingZero, 'stray3']] as const) {
      await js.publish(subject, JSON.stringify({ commandId: `s-${userId}`, userId, kind: 'create', target: 'pending_kyc', authority: 'self', reasonCode: 'signup', actorId: userId, replyTo }));
    }
    const rows = await until('strays parked', async () => {
      const r = await parkedWhere('subject = ANY($1)', [[outOfRange, extra, leadingZero]]);
      return r.length === 3 && r;
    }, 20_000);
    for (const row of rows) expect(row.error).toMatch(/^no partition consumer reads /);
    await until('senders answered', () => replies.length === 3);
    expect(replies[0]).toMatchObject({ ok: false, error: { code: 'INTERNAL', message: expect.stringMatching(/^parked: /) } });
    // Valid commands are not parked by the stray consumer.
    expect(await created('stray4')).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(await parkedWhere("payload LIKE '%stray4%'", [])).toEqual([]);
  });

  it('an implausible sequence jump pages once as sequence_jump, is not applied, and a re-baseline from the snapshot clears it', async () => {
    await balance('sq1', '1');
    await t.pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
       VALUES ('j-sq1', 'sq1', 'BTC', 1, 'deposit', 'd'), ('j-sq1', 'house:custody', 'BTC', -1, 'deposit', 'd')`);
    await balance('sq1', '7', Number.MAX_SAFE_INTEGER);
    const jump = await until('sequence_jump alert', () => alerts.find((a) => a.kind === 'sequence_jump'));
    expect(jump.detail).toMatch(/recon\.rebaseline/);
    // Later legitimate events still apply (the boundary is not blind), and nothing is paged twice.
    await balance('sq1', '2');
    await t.pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
       VALUES ('j-sq1b', 'sq1', 'BTC', 1, 'deposit', 'd2'), ('j-sq1b', 'house:custody', 'BTC', -1, 'deposit', 'd2')`);
    await until('sq1 engine side at 2', async () =>
      (await t.pool.query("SELECT engine_total::text AS e FROM recon_me_db_positions WHERE user_id = 'sq1'")).rows[0]?.e === '2.000000000000000000');
    expect(alerts.filter((a) => a.kind === 'sequence_jump')).toHaveLength(1);
    expect(alerts.filter((a) => a.kind === 'balance' && a.userId === 'sq1')).toEqual([]);

    // The operator re-baselines from the engine's snapshot.
    const snapshots = serveSnapshots(t.client, t.names, () => ({
      asOfSeq: seq + 10,
      rows: [{ userId: 'sq1', currency: 'BTC', totalMinor: 2n * 10n ** 18n, lockedMinor: 0n, availableMinor: 2n * 10n ** 18n }],
    }), silentLogger());
    subscriptions.push(snapshots);
    const bad = (await t.admin('recon.rebaseline', { boundary: 'me_db', actorId: 'ops' })) as { error?: { code: string } };
    expect(bad.error?.code).toBe('INVALID_REQUEST');
    const done = (await t.admin('recon.rebaseline', { boundary: 'me_db', actorId: 'ops', reason: 'engine sequence fixed' })) as { asOfSeq: number; balances: number };
    expect(done).toMatchObject({ boundary: 'me_db', asOfSeq: seq + 10, balances: 1 });
    const open = await t.pool.query("SELECT count(*)::int AS n FROM recon_breaks WHERE kind = 'sequence_jump' AND resolved_at IS NULL");
    expect(open.rows[0].n).toBe(0);
    seq += 10;
    await balance('sq1', '2');
    await until('events after the re-baseline apply', async () =>
      (await t.pool.query("SELECT engine_seq FROM recon_me_db_positions WHERE user_id = 'sq1'")).rows[0]?.engine_seq === String(seq));
  });
});

import type { Subscription } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { CutDigest } from '../../src/recon/cut-digest.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { until } from '../support/until.js';

let t: TestEngine;
const alerts: BreakAlert[] = [];
const resolved: BreakAlert[] = [];
const subs: Subscription[] = [];
let seq = 0;


/** What the matching engine would publish. */
async function engineBalance(userId: string, currency: string, total: string, overrides: Record<string, unknown> = {}): Promise<void> {
  seq += 1;
  const event = { seq, userId, currency, total, locked: '0', available: total, ts: new Date().toISOString(), ...overrides };
  await jetstream(t.client).publish(t.names.meBalanceSubject(userId), JSON.stringify(event));
}

/** What the ledger service would write: one journal, user against house:custody. */
async function deposit(journalId: string, userId: string, currency: string, amount: string): Promise<void> {
  await t.pool.query(
    `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
     VALUES ($1, $2, $3, $4, 'deposit', $1), ($1, 'house:custody', $3, -$4::numeric, 'deposit', $1)`,
    [journalId, userId, currency, amount],
  );
}

type Status = { boundaries: Array<{ name: string; enabled: boolean; openBreaks: number; lastDeltaAt: string | null; ageBuckets?: Record<string, number> }> };

beforeAll(async () => {
  t = await startTestEngine({ RECON_GRACE_MS: '300' });
  for (const [subject, into] of [[t.names.reconAlertSubject('me_db'), alerts], [t.names.reconResolvedSubject('me_db'), resolved]] as const) {
    subs.push(t.client.subscribe(subject, { callback: (_e, msg) => void into.push(msg.json<BreakAlert>()) }));
  }
  await t.client.flush();
});

afterAll(async () => {
  for (const s of subs) s.unsubscribe();
  await t?.close();
});

describe('me_db break lifecycle', () => {
  it('reports every boundary in admin.recon.status: me_db running, the external ones disabled (not broken)', async () => {
    await deposit('j-ok', 'lc1', 'BTC', '1.5');
    await engineBalance('lc1', 'BTC', '1.5');
    const status = await until('a delta', async () => {
      const s = (await t.admin('recon.status', {})) as Status;
      return s.boundaries.find((b) => b.name === 'me_db')?.lastDeltaAt ? s : null;
    });
    expect(status.boundaries.map((b) => b.name)).toEqual(['me_db', 'db_custody', 'db_chain']);
    expect(status.boundaries[0]).toMatchObject({ enabled: true, openBreaks: 0, ageBuckets: { '0-1': 0, '2-7': 0, '8-30': 0, '>30': 0 } });
    expect(status.boundaries.slice(1)).toEqual([
      expect.objectContaining({ name: 'db_custody', enabled: false, openBreaks: 0 }),
      expect.objectContaining({ name: 'db_chain', enabled: false, openBreaks: 0 }),
    ]);
  });

  it('open → acknowledged → resolved, with the operator action audited and no second page', async () => {
    await deposit('j-a', 'lc2', 'ETH', '2');
    await engineBalance('lc2', 'ETH', '2.5');
    const alert = await until('the alert', () => alerts.find((a) => a.userId === 'lc2'));
    expect(alert).toMatchObject({ kind: 'balance', currency: 'ETH', left: '2.5', right: '2', delta: '0.5' });

    const acked = await t.admin('recon.break.acknowledge', { boundary: 'me_db', breakId: alert.breakId, actorId: 'ops-1', reason: 'looking' });
    expect(acked).toMatchObject({ breakId: alert.breakId, status: 'acknowledged' });
    await new Promise((r) => setTimeout(r, 800));
    expect(alerts.filter((a) => a.userId === 'lc2')).toHaveLength(1);

    await deposit('j-b', 'lc2', 'ETH', '0.5');
    await until('resolved', () => resolved.find((r) => r.breakId === alert.breakId));
    const row = await t.pool.query('SELECT status, acknowledged_by, resolved_at FROM recon_breaks WHERE id = $1', [alert.breakId]);
    expect(row.rows[0]).toMatchObject({ status: 'resolved', acknowledged_by: 'ops-1', resolved_at: expect.any(Date) });
    const actions = await t.pool.query('SELECT action, actor_id, reason FROM recon_break_actions WHERE break_id = $1', [alert.breakId]);
    expect(actions.rows).toEqual([{ action: 'acknowledge', actor_id: 'ops-1', reason: 'looking' }]);
  });

  it('an accepted break is no longer open and is not paged again while it persists', async () => {
    await deposit('j-c', 'lc3', 'USDT', '100');
    await engineBalance('lc3', 'USDT', '99.99');
    const alert = await until('the alert', () => alerts.find((a) => a.userId === 'lc3'));
    const noReason = (await t.admin('recon.break.accept', { boundary: 'me_db', breakId: alert.breakId, actorId: 'ops-2' })) as { error: { code: string } };
    expect(noReason.error.code).toBe('INVALID_REQUEST');
    await t.admin('recon.break.accept', { boundary: 'me_db', breakId: alert.breakId, actorId: 'ops-2', reason: 'dust written off, ticket OPS-7' });
    const status = (await t.admin('recon.status', {})) as Status;
    expect(status.boundaries[0]?.openBreaks).toBe(0);
    await engineBalance('lc3', 'USDT', '99.99');
    await new Promise((r) => setTimeout(r, 800));
    expect(alerts.filter((a) => a.userId === 'lc3')).toHaveLength(1);
    const row = await t.pool.query('SELECT status, accepted_by, accepted_reason FROM recon_breaks WHERE id = $1', [alert.breakId]);
    expect(row.rows[0]).toEqual({ status: 'accepted', accepted_by: 'ops-2', accepted_reason: 'dust written off, ticket OPS-7' });
  });

  it('an unbalanced journal and a non-zero currency total are breaks of their own kinds', async () => {
    await t.pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
       VALUES ('j-bad', 'lc4', 'SOL', 3, 'deposit', 'x'), ('j-bad', 'house:custody', 'SOL', -2, 'deposit', 'x')`,
    );
    const journal = await until('journal alert', () => alerts.find((a) => a.kind === 'journal_unbalanced'));
    expect(journal).toMatchObject({ currency: 'SOL', left: '1', right: '0', delta: '1' });
    const currency = await until('currency alert', () => alerts.find((a) => a.kind === 'currency_nonzero'));
    expect(currency).toMatchObject({ currency: 'SOL', left: '1', delta: '1' });
  });

  it('parks engine events that break the contract and never applies them', async () => {
    const before = (await t.admin('recon.status', {})) as { boundaries: Array<{ counters: { engineEventsApplied: number; engineEventsParked: number } }> };
    await engineBalance('lc5', 'BTC', '5', { locked: '1', available: '1' }); // total ≠ locked + available
    await engineBalance('lc5', 'BTC', 'lots'); // not a decimal
    await engineBalance('lc6', 'BTC', '1', { userId: 'someone-else' }); // subject and payload disagree
    await until('parked', async () => {
      const parked = await t.pool.query("SELECT count(*)::int AS n FROM parked_commands WHERE stream = $1", [t.names.meBalanceStream]);
      return parked.rows[0].n === 3;
    });
    const parked = await t.pool.query('SELECT error FROM parked_commands WHERE stream = $1 ORDER BY stream_seq', [t.names.meBalanceStream]);
    expect(parked.rows.map((r: { error: string }) => r.error.split(':')[0])).toEqual(['TOTAL_MISMATCH', 'INVALID_SHAPE', 'SUBJECT_MISMATCH']);
    const after = (await t.admin('recon.status', {})) as typeof before;
    expect(after.boundaries[0]?.counters.engineEventsApplied).toBe(before.boundaries[0]?.counters.engineEventsApplied);
    expect(after.boundaries[0]?.counters.engineEventsParked).toBe((before.boundaries[0]?.counters.engineEventsParked ?? 0) + 3);
  });

  it('a long transaction elsewhere on the server holds the read horizon back: no false break, real ones still caught', async () => {
    const blocker = await t.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT pg_current_xact_id()'); // takes an xid: the horizon stops here
      await deposit('j-lt', 'lc8', 'BTC', '4');
      await engineBalance('lc8', 'BTC', '4');
      await engineBalance('lc9', 'BTC', '2'); // no ledger entry at all: a real break
      await until('the real break', () => alerts.find((a) => a.userId === 'lc9'));
      await new Promise((r) => setTimeout(r, 600));
      expect(alerts.filter((a) => a.userId === 'lc8')).toEqual([]);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    await deposit('j-lc9', 'lc9', 'BTC', '2');
    const lc9 = alerts.find((a) => a.userId === 'lc9');
    await until('lc9 resolved', () => resolved.find((r) => r.breakId === lc9?.breakId));
    expect(alerts.filter((a) => a.userId === 'lc8')).toEqual([]);
  });

  it('parks an engine event whose sequence goes backwards and pages it once as a sequence_regression', async () => {
    await engineBalance('lc7', 'BTC', '1');
    const backwards = seq - 1;
    for (const total of ['9', '8']) {
      await jetstream(t.client).publish(t.names.meBalanceSubject('lc7'), JSON.stringify({ seq: backwards, userId: 'lc7', currency: 'BTC', total, locked: '0', available: total, ts: new Date().toISOString() }));
    }
    const row = await until('parked', async () => (await t.pool.query("SELECT error FROM parked_commands WHERE stream = $1 AND error LIKE 'engine sequence went backwards%'", [t.names.meBalanceStream])).rows[0]);
    expect(row.error).toMatch(new RegExp(`^engine sequence went backwards: ${backwards} after ${seq}`));
    const meta = await until('sequence_regression alert', () => alerts.find((a) => a.kind === 'sequence_regression'));
    expect(meta.detail).toMatch(/recon\.rebaseline/);
    await until('both parked', async () => (await t.pool.query("SELECT count(*)::int AS n FROM parked_commands WHERE error LIKE 'engine sequence went backwards%'")).rows[0].n === 2);
    expect(alerts.filter((a) => a.kind === 'sequence_regression')).toHaveLength(1);
    await deposit('j-lc7', 'lc7', 'BTC', '1');
    // Later events still apply: the boundary is not blind.
    await engineBalance('lc7', 'BTC', '3');
    await deposit('j-lc7b', 'lc7', 'BTC', '2');
    await until('lc7 position at 3', async () => (await t.pool.query("SELECT engine_total::text AS e FROM recon_me_db_positions WHERE user_id = 'lc7'")).rows[0]?.e === '3.000000000000000000');
  });

  it('raises a meta-alert when the reconciler itself fails, and resolves it on recovery', async () => {
    await t.pool.query('ALTER TABLE ledger_entries RENAME TO ledger_entries_away');
    try {
      const meta = await until('meta-alert', () => alerts.find((a) => a.kind === 'reconciler_error'));
      expect(meta.detail).toMatch(/ledger_entries/);
    } finally {
      await t.pool.query('ALTER TABLE ledger_entries_away RENAME TO ledger_entries');
    }
    const meta = alerts.find((a) => a.kind === 'reconciler_error');
    await until('meta-alert resolved', () => resolved.find((r) => r.breakId === meta?.breakId));
  });

  it('seals a consistent cut once per business date, with a digest of the positions', async () => {
    // The seal is taken by the EOD close; here through the engine's reconciler directly.
    const first = await t.engine.meDb.seal('2026-11-24');
    const again = await t.engine.meDb.seal('2026-11-24');
    expect(again).toEqual(first);
    // The cut is at the last applied event (lc7's, seq 8); parked events never move it.
    expect(first.cut.engineSeq).toBe(seq);
    const positions = await t.pool.query<{ user_id: string; currency: string; engine_total: string; ledger_total: string }>(
      'SELECT user_id, currency, engine_total::text, ledger_total::text FROM recon_me_db_positions');
    const digest = new CutDigest();
    for (const p of positions.rows) digest.replace(`${p.user_id}/${p.currency}`, null, `${toMinor(p.engine_total)}|${toMinor(p.ledger_total)}`);
    expect(first.digest).toBe(digest.hex());
  });
});

function toMinor(decimal: string): bigint {
  const [whole = '0', fraction = ''] = decimal.replace('-', '').split('.');
  const minor = BigInt(whole + fraction.padEnd(18, '0').slice(0, 18));
  return decimal.startsWith('-') ? -minor : minor;
}

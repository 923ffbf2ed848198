import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decimalToMinor, minorToDecimal } from '../../src/config/decimal.js';
import { businessWindow } from '../../src/eod/business-date.js';
import { verifyProof } from '../../src/eod/proof/index.js';
import { verifyReportChain } from '../../src/eod/report/index.js';
import { processRegistry } from '../../src/observability/metrics.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { until } from '../support/until.js';
import { runCli } from '../cli/run-cli.js';
import { depositsDuring, ExchangeFixture, unit } from './exchange-fixture.js';

const cutover = { time: '00:00', zone: 'UTC' };
const [d1, d2, d3] = ['2026-11-24', '2026-11-25', '2026-11-26'] as const;
const w1 = businessWindow(d1, cutover);
const w2 = businessWindow(d2, cutover);
const w3 = businessWindow(d3, cutover);
const users = Array.from({ length: 30 }, (_, i) => `cu${String(i).padStart(3, '0')}`);

let t: TestEngine;
let dir: string;
let fx: ExchangeFixture;

type RunAnswer = { date: string; status: string; steps: Array<{ name: string; status: string }> };
type ReportDoc = { date: string; sha256: string; prevSha256: string | null; signature: string; publicKey: string; report: Record<string, unknown> };
type AdminError = { error: { code: string; message: string } };

const tables = ['eod_runs', 'eod_reports', 'user_balance_snapshots', 'eod_ledger_balances', 'proof_of_reserves', 'eod_sealed_days', 'ledger_entries'];
async function rowCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) counts[table] = Number((await t.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`)).rows[0]?.n);
  const jsm = await jetstreamManager(t.client);
  counts.eodEvents = (await jsm.streams.info(t.names.eodStream)).state.messages;
  return counts;
}

/** The chain checked with the report verifier (src/eod/report): null when it holds, else the first failure's date and reason. */
function chainProblem(docs: ReportDoc[]): string | null {
  const verdict = verifyReportChain(docs);
  return verdict.ok ? null : `${verdict.firstFailure.date}: ${verdict.firstFailure.reason}`;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'recon-eod-'));
  // A retention of one day, so sealing D2 and D3 prunes the engine history no later close reads.
  t = await startTestEngine({ EOD_SCHEDULER: 'off', EOD_REPORTS_DIR: path.join(dir, 'reports'), RECON_GRACE_MS: '200', EOD_HISTORY_RETENTION_DAYS: '1' });
  fx = new ExchangeFixture(t.pool, t.client, t.names);
  await fx.apply([
    ...depositsDuring(users, ['BTC', 'ETH'], w1.startMs, w1.endMs, 1),
    // A second before and after the cutover that ends D1.
    { userId: 'cu000', currency: 'BTC', amountMinor: 7n * unit, atMs: w1.endMs - 1_000 },
    { userId: 'cu001', currency: 'BTC', amountMinor: 5n * unit, atMs: w1.endMs + 1_000 },
    ...depositsDuring(users.slice(0, 10), ['BTC'], w2.startMs, w2.endMs, 2),
    ...depositsDuring(users.slice(5, 20), ['ETH'], w3.startMs, w3.endMs, 3),
    { userId: 'cu002', currency: 'ETH', amountMinor: unit, atMs: w3.endMs + 5_000 },
  ]);
  await until('the engine history recorded', () => fx.recorded(), 30_000);
});

afterAll(async () => {
  await t?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the EOD close', () => {
  it('refuses bad input naming the field, and writes nothing', async () => {
    const before = await rowCounts();
    for (const body of [{ date: '2026-13-01' }, { date: '26-11-24' }, { date: '2030-01-01' }, {}]) {
      const reply = (await t.admin('eod.run', body)) as AdminError;
      expect(reply.error.code).toBe('INVALID_REQUEST');
      expect(reply.error.message).toMatch(/date/);
    }
    expect(await rowCounts()).toEqual(before);
  });

  it('closes D1: every step listed, the snapshot at the cut, a root tied to the ledger, files and events', async () => {
    const sealedEvents: unknown[] = [];
    const sub = t.client.subscribe(t.names.eodSealedSubject, { callback: (_e, m) => void sealedEvents.push(m.json()) });
    const answer = (await t.admin('eod.run', { date: d1 })) as RunAnswer;
    expect(answer.status).toBe('sealed');
    expect(answer.steps.map((s) => s.name)).toEqual(['balance_snapshot', 'pnl', 'fee_accrual', 'volume_rollup', 'staking_rewards', 'recon_me_db', 'recon_db_custody', 'recon_db_chain', 'sanctions', 'kyc_reactivation', 'admin_adjustments']);
    expect(answer.steps.filter((s) => s.status === 'completed').map((s) => s.name)).toEqual(['balance_snapshot', 'pnl', 'fee_accrual', 'volume_rollup', 'recon_me_db', 'sanctions', 'kyc_reactivation', 'admin_adjustments']);
    const status = (await t.admin('eod.status', { date: d1 })) as { status: string; steps: Array<{ name: string; status: string; attempts: number; error?: string }> };
    expect(status.status).toBe('sealed');
    expect(status.steps.find((s) => s.name === 'staking_rewards')).toMatchObject({ status: 'skipped', error: 'the revenue-router gate is closed (STAKING_REWARDS_ENABLED=off)' });
    expect(status.steps.find((s) => s.name === 'recon_db_custody')?.error).toMatch(/not configured/);
    // A movement a second before the cutover is in D1, a second after is not.
    const snap = await t.pool.query<{ user_id: string; total: string }>(
      "SELECT user_id, total::text FROM user_balance_snapshots WHERE business_date = $1 AND currency = 'BTC' AND user_id IN ('cu000', 'cu001') ORDER BY user_id", [d1]);
    const ledgerAt = async (userId: string) => (await t.pool.query<{ s: string }>(
      "SELECT sum(amount)::text AS s FROM ledger_entries WHERE user_id = $1 AND currency = 'BTC' AND created_at < $2", [userId, new Date(w1.endMs)])).rows[0]?.s;
    expect(snap.rows.map((r) => Number(r.total))).toEqual([Number(await ledgerAt('cu000')), Number(await ledgerAt('cu001'))]);
    expect(Number(snap.rows[0]?.total)).toBeGreaterThanOrEqual(7);
    const report = (await t.admin('eod.report', { date: d1 })) as ReportDoc;
    expect(report.prevSha256).toBeNull();
    expect(chainProblem([report])).toBeNull();
    const liabilities = report.report.liabilities as Array<{ currency: string; total: string; leafCount: number; rootHash: string }>;
    for (const l of liabilities) {
      const ledger = await t.pool.query<{ s: string }>(
        "SELECT sum(amount)::text AS s FROM ledger_entries WHERE currency = $1 AND user_id NOT LIKE 'house:%' AND created_at < $2", [l.currency, new Date(w1.endMs)]);
      expect(Number(l.total)).toBe(Number(ledger.rows[0]?.s));
      expect(l.leafCount).toBe(users.length);
    }
    // Every user's proof verifies against the signed root, and fails with the balance one minor unit off.
    for (const userId of users) {
      for (const currency of ['BTC', 'ETH']) {
        const proof = (await t.admin('eod.proof', { date: d1, userId, currency })) as { balance: string };
        expect(verifyProof(proof, { report: report.report })).toMatchObject({ ok: true });
        for (const delta of [1n, -1n]) {
          const off = { ...proof, balance: minorToDecimal(decimalToMinor(proof.balance, 18) + delta, 18) };
          expect(verifyProof(off, { report: report.report }).ok).toBe(false);
        }
      }
    }
    expect(((await t.admin('eod.proof', { date: d1, userId: 'nobody', currency: 'ETH' })) as AdminError).error.code).toBe('NOT_FOUND');
    const file = JSON.parse(await readFile(path.join(dir, 'reports', `${d1}.json`), 'utf8')) as ReportDoc;
    expect(file.sha256).toBe(report.sha256);
    expect(await readFile(path.join(dir, 'reports', `${d1}.html`), 'utf8')).toMatch(/<html/);
    // The same document in the JetStream object store, beside its HTML page.
    const store = await new Objm(t.client).open(t.names.eodReportsStore);
    const stored = JSON.parse(new TextDecoder().decode((await store.getBlob(`${d1}.json`)) ?? new Uint8Array())) as ReportDoc;
    expect(stored.sha256).toBe(report.sha256);
    expect(new TextDecoder().decode((await store.getBlob(`${d1}.html`)) ?? new Uint8Array())).toMatch(/<html/);
    // Each step's duration is in the engine's metrics (GET /metrics), by step and outcome.
    expect(await processRegistry.getSingleMetricAsString('recon_eod_step_duration_seconds')).toMatch(/recon_eod_step_duration_seconds_count\{step="balance_snapshot",outcome="completed"\} [1-9]/);
    await until('eod.sealed', () => sealedEvents.length > 0);
    expect(sealedEvents).toEqual([{ date: d1, sha256: report.sha256 }]);
    // Each built step announced its completion on the EOD stream, with the date.
    const jsm = await jetstreamManager(t.client);
    for (const step of ['balance_snapshot', 'recon_me_db']) {
      const stored = await jsm.streams.getMessage(t.names.eodStream, { last_by_subj: t.names.eodStepSubject(step, 'completed') });
      expect(stored?.json()).toEqual({ date: d1, step });
    }
    sub.unsubscribe();
  });

  it('re-running a sealed day changes nothing: same sha256, same rows everywhere', async () => {
    const before = await rowCounts();
    const first = (await t.admin('eod.report', { date: d1 })) as ReportDoc;
    expect(((await t.admin('eod.run', { date: d1 })) as RunAnswer).status).toBe('sealed');
    expect(((await t.admin('eod.report', { date: d1 })) as ReportDoc).sha256).toBe(first.sha256);
    expect(await rowCounts()).toEqual(before);
  });

  it('the ledger refuses a row dated inside a sealed day, and any change to one', async () => {
    await expect(t.pool.query(
      "INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at) VALUES ('late', 'cu000', 'BTC', 1, 'deposit', 'late', $1)",
      [new Date(w1.endMs - 60_000)])).rejects.toThrow(/sealed business date 2026-11-24/);
    const inside = [new Date(w1.startMs).toISOString(), new Date(w1.endMs).toISOString()];
    const before = await t.pool.query('SELECT id, amount::text, created_at FROM ledger_entries WHERE created_at >= $1 AND created_at < $2 ORDER BY id', inside);
    expect(before.rowCount).toBeGreaterThan(0);
    await expect(t.pool.query('UPDATE ledger_entries SET amount = amount + 1 WHERE created_at >= $1 AND created_at < $2', inside)).rejects.toMatchObject({ code: 'RS001' });
    await expect(t.pool.query('DELETE FROM ledger_entries WHERE created_at >= $1 AND created_at < $2', inside)).rejects.toMatchObject({ code: 'RS001' });
    await expect(t.pool.query('TRUNCATE ledger_entries')).rejects.toMatchObject({ code: 'RS001' });
    // A row of an open day moved into the sealed one.
    await expect(t.pool.query('UPDATE ledger_entries SET created_at = $1 WHERE id = (SELECT max(id) FROM ledger_entries)', [inside[0]])).rejects.toMatchObject({ code: 'RS001' });
    expect((await t.pool.query('SELECT id, amount::text, created_at FROM ledger_entries WHERE created_at >= $1 AND created_at < $2 ORDER BY id', inside)).rows).toEqual(before.rows);
  });

  it('three days chain and verify (D3 asked for, D2 closed first); a one-byte edit of the middle report in Postgres is named', async () => {
    const sealedEvents: Array<{ date: string }> = [];
    const sub = t.client.subscribe(t.names.eodSealedSubject, { callback: (_e, m) => void sealedEvents.push(m.json()) });
    // Any past day runs: the unsealed day before it is closed first, so the chain has no gap.
    expect(((await t.admin('eod.run', { date: d3 })) as RunAnswer).status).toBe('sealed');
    expect(((await t.admin('eod.status', { date: d2 })) as { status: string }).status).toBe('sealed');
    await until('both days announced', () => sealedEvents.length >= 2, 10_000);
    sub.unsubscribe();
    expect(sealedEvents.map((e) => e.date)).toEqual([d2, d3]);
    const docs = await Promise.all([d1, d2, d3].map(async (date) => (await t.admin('eod.report', { date })) as ReportDoc));
    expect(docs[1]?.prevSha256).toBe(docs[0]?.sha256);
    expect(docs[2]?.prevSha256).toBe(docs[1]?.sha256);
    expect(chainProblem(docs)).toBeNull();
    // Retention (one day): the engine history before D3's start, one day before its cutover, is gone; D3's is kept.
    const history = await t.pool.query<{ before: number; kept: number }>(
      'SELECT count(*) FILTER (WHERE ts < $1)::int AS before, count(*) FILTER (WHERE ts >= $1)::int AS kept FROM engine_balance_history',
      [new Date(w3.startMs).toISOString()]);
    expect(history.rows[0]).toMatchObject({ before: 0 });
    expect(history.rows[0]!.kept).toBeGreaterThan(0);
    // cu001's +5 a second after D1's cutover is in D2's snapshot.
    const cu001 = await t.pool.query<{ business_date: string; total: string }>(
      "SELECT to_char(business_date, 'YYYY-MM-DD') AS business_date, total::text FROM user_balance_snapshots WHERE user_id = 'cu001' AND currency = 'BTC' ORDER BY 1");
    expect(Number(cu001.rows[1]?.total) - Number(cu001.rows[0]?.total)).toBeGreaterThanOrEqual(5);
    await t.pool.query(`UPDATE eod_reports SET report = jsonb_set(report, '{cut,engineSeq}', to_jsonb((report->'cut'->>'engineSeq')::int + 1)) WHERE business_date = $1`, [d2]);
    const edited = await Promise.all([d1, d2, d3].map(async (date) => (await t.admin('eod.report', { date })) as ReportDoc));
    expect(chainProblem(edited)).toMatch(new RegExp(`^${d2}: .*sha256`));
    // What an auditor runs: `recon report verify` on the reports as the engine answers them.
    const files = async (label: string, all: ReportDoc[]): Promise<string[]> => Promise.all(all.map(async (doc) => {
      const file = path.join(dir, `${label}-${doc.date}.json`);
      await writeFile(file, JSON.stringify(doc));
      return file;
    }));
    const good = await runCli(['report', 'verify', ...(await files('as-sealed', docs)), '--json'], {});
    expect(good.code).toBe(0);
    const bad = await runCli(['report', 'verify', ...(await files('edited', edited)), '--json'], {});
    expect(bad.code).toBe(1);
    expect(bad.json<{ firstFailure: string }>().firstFailure).toMatch(new RegExp(`edited-${d2}\\.json \\(${d2}\\): .*sha256`));
  }, 60_000);

  it('a day before the first ledger row closes as an empty day, first of its own chain', async () => {
    const answer = (await t.admin('eod.run', { date: '2026-11-01' })) as RunAnswer;
    expect(answer.status).toBe('sealed');
    expect(answer.steps.filter((s) => s.status === 'failed')).toEqual([]);
    const doc = (await t.admin('eod.report', { date: '2026-11-01' })) as ReportDoc;
    expect(doc.prevSha256).toBeNull();
    expect(doc.report.liabilities).toEqual([]);
    expect(chainProblem([doc])).toBeNull();
  });
});

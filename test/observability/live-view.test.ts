import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { removeTopology } from '../../src/nats/topology.js';
import { formatLiveLine } from '../../src/observability/live-view.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startReconProcess, type ReconStart } from '../support/recon-start.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';
import { projectRoot } from '../cli/run-cli.js';

const plain = { red: String, green: String, yellow: String, cyan: String, dim: String, bold: String };

/** An engine process with an account frozen by a me_db break, then the break fixed and the account restored. */
async function runStory(args: string[]): Promise<string> {
  const database: TestDatabase = await createTestDatabase();
  const names: NatsNames = natsNames(testNamespace());
  const nc: NatsConnection = await connect({ servers: sharedNatsUrl() });
  const pool: Pool = createPool(database.url, 2);
  let engine: ReconStart | null = null;
  const admin = async (relative: string, body: unknown) => (await nc.request(`${names.adminPrefix}.${relative}`, JSON.stringify(body), { timeout: 15_000 })).json<Record<string, unknown>>();
  try {
    engine = await startReconProcess({
      NATS_URL: sharedNatsUrl(), DATABASE_URL: database.url, NAMESPACE: names.namespace, HTTP_LISTEN: '127.0.0.1:0', RECON_GRACE_MS: '200', COMMAND_PARTITIONS: '4',
    }, args, /engine ready|"event":"engine\.ready"/);
    await admin('account.create', { userId: 'dave' });
    await admin('account.transition', { userId: 'dave', target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc-svc' });
    await admin('account.transition', { userId: 'dave', target: 'active', reasonCode: 'first_deposit', authority: 'system', actorId: 'ledger' });
    // The engine says dave holds 1 BTC, the ledger nothing: a break, and dave is frozen.
    await jetstream(nc).publish(names.meBalanceSubject('dave'), JSON.stringify({ seq: 1, userId: 'dave', currency: 'BTC', total: '1', locked: '0', available: '1', ts: new Date().toISOString() }));
    await until('dave frozen', async () => (await admin('account.get', { userId: 'dave' })).state === 'suspended');
    // The ledger catches up; ops restore dave.
    await pool.query(`INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id) VALUES ('j1', 'dave', 'BTC', 1, 'deposit', 'j1'), ('j1', 'house:custody', 'BTC', -1, 'deposit', 'j1')`);
    await until('the break resolved', async () => ((await admin('recon.breaks', {})) as { breaks: unknown[] }).breaks.length === 0);
    await admin('account.transition', { userId: 'dave', target: 'active', reasonCode: 'recon_cleared', authority: 'admin', actorId: 'ops-1' });
    await until('the restore logged', () => /restored|RESTORED/.test(engine!.output()));
    return engine.output();
  } finally {
    await engine?.stop();
    await removeTopology(nc, names);
    await nc.close();
    await pool.end();
    await database.drop();
  }
}

describe('the live view', () => {
  it.runIf(existsSync('/usr/bin/script'))('is what npm start shows on a terminal (a pseudo-terminal here), in colour', async () => {
    const database = await createTestDatabase();
    const names = natsNames(testNamespace());
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NATS_URL: sharedNatsUrl(), DATABASE_URL: database.url, NAMESPACE: names.namespace, HTTP_LISTEN: '127.0.0.1:0', COMMAND_PARTITIONS: '2' };
    // script(1) gives the engine a terminal as stdout; its own process group, so all of it stops.
    const child = spawn('/usr/bin/script', ['-qfec', `${process.execPath} --import tsx src/main.ts`, '/dev/null'], { cwd: projectRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await until('the ready line', () => /READY/.test(output), 60_000);
      expect(output).toMatch(/\u001b\[3\dm/); // colours
      expect(output).toMatch(/READY.*engine ready/);
      expect(output).not.toMatch(/"level":/);
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
      const nc = await connect({ servers: sharedNatsUrl() });
      await removeTopology(nc, names);
      await nc.close();
      await database.drop();
    }
  });

  it('with --pretty: one readable line per thing that matters, the boundary in plain words', async () => {
    const output = await runStory(['--pretty']);
    const lines = output.split('\n').filter(Boolean);
    expect(lines.every((l) => !l.startsWith('{')), output).toBe(true);
    expect(output).toMatch(/^\d\d:\d\d:\d\d READY {4}engine ready; try: .*recon account get alice/m);
    expect(output).toMatch(/^\d\d:\d\d:\d\d HTTP {5}metrics http:\/\/127\.0\.0\.1:\d+\/metrics · health http:\/\/127\.0\.0\.1:\d+\/health$/m);
    expect(output).toMatch(/^\d\d:\d\d:\d\d ALERT {4}matching engine ↔ ledger: dave BTC [a-z_]+, off by -?1 \(engine 1, ledger 0\)$/m);
    expect(output).toMatch(/^\d\d:\d\d:\d\d FROZEN {3}account dave is now suspended \(was active\): recon_break_me_db, by system recon:me_db:[0-9a-f-]+$/m);
    // The resolution carries the agreed amounts, and the last difference apart.
    expect(output).toMatch(/^\d\d:\d\d:\d\d RESOLVED matching engine ↔ ledger: dave BTC [a-z_]+, the sides agree again at engine 1, ledger 1 \(it was off by -?1\)$/m);
    expect(output).toMatch(/^\d\d:\d\d:\d\d RESTORED account dave is active again \(was suspended\): recon_cleared, by admin ops-1$/m);
    // Signup and KYC are routine: not shown.
    expect(output).not.toMatch(/kyc_approved/);
  });

  it('piped: JSON lines, one event each, the freeze and the alert included', async () => {
    const output = await runStory([]);
    const events = output.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.find((e) => e.event === 'recon.alert')).toMatchObject({ boundary: 'me_db', userId: 'dave', currency: 'BTC', left: '1', right: '0', delta: expect.stringMatching(/^-?1$/) });
    expect(events.find((e) => e.event === 'recon.resolved')).toMatchObject({ boundary: 'me_db', userId: 'dave', currency: 'BTC' });
    expect(events.find((e) => e.event === 'account.frozen')).toMatchObject({ userId: 'dave', from: 'active', to: 'suspended', reasonCode: 'recon_break_me_db', authority: 'system' });
    expect(events.find((e) => e.event === 'account.restored')).toMatchObject({ userId: 'dave', from: 'suspended', to: 'active' });
    expect(events.find((e) => e.event === 'http.listening')).toMatchObject({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
  });

  it('formats the other events a person must see', () => {
    const at = { time: '2026-12-02T08:00:01.000Z' };
    expect(formatLiveLine({ ...at, level: 40, event: 'custody.withdrawals_paused', asset: 'SOL', ledger: '100', custody: '99', delta: '1' }, plain)).toBe('08:00:01 PAUSED   SOL withdrawals paused: ledger ↔ custody off by 1 (ledger 100, custody 99)');
    // A resolution with the agreed amounts and the last difference apart.
    expect(formatLiveLine({ ...at, level: 30, event: 'recon.resolved', boundary: 'db_custody', kind: 'balance', currency: 'SOL', left: '65', right: '65', delta: '0', lastDelta: '1' }, plain)).toBe('08:00:01 RESOLVED ledger ↔ custody: SOL balance, the sides agree again at ledger 65, custody 65 (it was off by 1)');
    expect(formatLiveLine({ ...at, level: 40, event: 'custody.withdrawals_resumed', asset: 'SOL' }, plain)).toBe('08:00:01 RESUMED  SOL withdrawals resumed: ledger and custody agree again');
    expect(formatLiveLine({ ...at, level: 30, event: 'recon.break_accepted', boundary: 'db_chain', breakId: 'b1', actorId: 'ops-1', reason: 'known' }, plain)).toBe('08:00:01 ACCEPTED ledger ↔ chain: break b1 by ops-1 — known');
    expect(formatLiveLine({ ...at, level: 30, event: 'eod.balance_snapshot.completed', date: '2026-12-01', attempt: 1 }, plain)).toBe('08:00:01 EOD      2026-12-01 balance_snapshot done');
    expect(formatLiveLine({ ...at, level: 50, event: 'eod.pnl.failed', date: '2026-12-01', attempt: 2, err: 'timeout\nstack' }, plain)).toBe('08:00:01 EOD      2026-12-01 pnl FAILED: timeout');
    expect(formatLiveLine({ ...at, level: 30, event: 'eod.run.sealed', date: '2026-12-01', sha256: 'ab'.repeat(32) }, plain)).toBe('08:00:01 SEALED   2026-12-01 close sealed, sha256 abababababababab…');
    expect(formatLiveLine({ ...at, level: 30, event: 'engine.summary', eventsPerSec: 312, liveActors: 50, openBreaks: 1 }, plain)).toBe('08:00:01 SUMMARY  312 events/s · 50 live actors · 1 open break');
    expect(formatLiveLine({ ...at, level: 30, event: 'embedded.postgres.started', url: 'postgres://recon:pw@127.0.0.1:5999/recon' }, plain)).toBe('08:00:01 START    PostgreSQL postgres://recon:***@127.0.0.1:5999/recon (embedded)');
    expect(formatLiveLine({ ...at, level: 30, event: 'admin.request', msg: 'admin request answered' }, plain)).toBeNull();
    expect(formatLiveLine({ ...at, level: 50, event: 'recon.error', msg: 'me_db failed', err: 'boom\nstack' }, plain)).toBe('08:00:01 ERROR    me_db failed: boom');
  });
});

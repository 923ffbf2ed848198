import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsNames } from '../../src/nats/names.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { runCli } from './run-cli.js';

/**
 * A close that runs past the 60 s answer of admin.eod.run is slow to stage with a real
 * engine: these tests check the CLI's following of it against the contract (docs/contract.md)
 * with a tiny responder that answers exactly what the contract says and records what it was
 * sent. The close itself is tested through the CLI in cli-eod.test.ts.
 */
describe('against the contract (eod run past its 60 s answer)', () => {
  let nc: NatsConnection;
  let env: Record<string, string>;
  const received: Record<string, unknown[]> = {};
  const dir = mkdtempSync(path.join(os.tmpdir(), 'recon-cli-contract-'));
  const steps = ['balance_snapshot', 'pnl', 'fee_accrual', 'volume_rollup', 'staking_rewards', 'recon_me_db', 'recon_db_custody', 'recon_db_chain', 'sanctions', 'kyc_reactivation', 'admin_adjustments'];
  let statusCalls = 0;

  const answers: Record<string, (body: Record<string, unknown>) => unknown> = {
    'eod.run': (b) => ({ date: b.date, status: 'running', steps: steps.map((name, i) => ({ name, status: i < 3 ? 'completed' : 'pending' })) }),
    // The run finishes on the third status poll.
    'eod.status': (b) => {
      statusCalls++;
      const sealed = statusCalls >= 3;
      return { date: b.date, status: sealed ? 'sealed' : 'running', steps: steps.map((name, i) => ({ name, status: sealed || i < 5 ? 'completed' : 'pending', attempts: 1, startedAt: '2026-12-02T00:00:01Z', endedAt: sealed ? '2026-12-02T00:00:09Z' : null })) };
    },
    'eod.report': (b) => (b.date === '2026-11-30'
      ? { error: { code: 'NOT_FOUND', message: 'no sealed report for 2026-11-30' } }
      : { date: b.date, sha256: 'a'.repeat(64), prevSha256: null, signature: 'b'.repeat(128), publicKey: 'c'.repeat(64), report: { date: b.date, prevSha256: null, cut: {}, steps: [], breaks: [], liabilities: [{ currency: 'BTC', rootHash: 'd'.repeat(64), total: '3.5', leafCount: 2 }] } }),
    'eod.proof': (b) => ({ date: b.date, currency: b.currency, userId: b.userId, balance: '1.5', salt: 'e'.repeat(64), leafIndex: 1, path: [{ hash: 'f'.repeat(64), sum: '2' }], rootHash: 'd'.repeat(64), total: '3.5' }),
  };

  beforeAll(async () => {
    const namespace = testNamespace();
    const names = natsNames(namespace);
    nc = await connect({ servers: sharedNatsUrl() });
    for (const [relative, answer] of Object.entries(answers)) {
      nc.subscribe(`${names.adminPrefix}.${relative}`, {
        callback: (_e, msg) => {
          const body = msg.json<Record<string, unknown>>();
          (received[relative] ??= []).push(body);
          msg.respond(JSON.stringify(answer(body)));
        },
      });
    }
    await nc.flush();
    env = { NATS_URL: sharedNatsUrl(), NAMESPACE: namespace };
  });
  afterAll(async () => {
    await nc?.close();
  });

  it('eod run follows the run to its end (eod.status) and prints the steps', async () => {
    const run = await runCli(['eod', 'run', '2026-12-01', '--json'], env);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({ date: '2026-12-01', status: 'sealed' });
    expect(received['eod.run']).toEqual([{ date: '2026-12-01' }]);
    const noWait = await runCli(['eod', 'run', '2026-12-01', '--no-wait', '--json'], env);
    expect(noWait.json()).toMatchObject({ status: 'running' });
    expect((await runCli(['eod', 'run', '2026-02-30'], env)).code).toBe(2);
  });

  it('eod status, report (written to a file) and proof', async () => {
    const status = await runCli(['eod', 'status', '2026-12-01'], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/admin_adjustments/);
    const out = path.join(dir, 'report.json');
    const report = await runCli(['eod', 'report', '2026-12-01', '--out', out, '--json'], env);
    expect(report.code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(report.json());
    const missing = await runCli(['eod', 'report', '2026-11-30', '--json'], env);
    expect(missing.code).toBe(3);
    const proof = await runCli(['eod', 'proof', '2026-12-01', 'alice', 'BTC', '--json'], env);
    expect(proof.code).toBe(0);
    expect(proof.json()).toMatchObject({ userId: 'alice', currency: 'BTC', leafIndex: 1 });
    expect(received['eod.proof']).toEqual([{ date: '2026-12-01', userId: 'alice', currency: 'BTC' }]);
  });
});

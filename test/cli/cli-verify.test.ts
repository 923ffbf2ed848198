import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot, runCli } from './run-cli.js';

interface Vectors { trees: Array<{ name: string; rootHash: string; total: string; currency: string; date: string; proofs: Array<Record<string, unknown>> }> }

/** Offline: `recon proof verify` on the published test vectors (docs/proof-test-vectors.json). */
describe('recon proof verify', () => {
  const vectors = JSON.parse(readFileSync(path.join(projectRoot, 'docs/proof-test-vectors.json'), 'utf8')) as Vectors;
  const tree = vectors.trees.at(-1)!;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'recon-cli-proof-'));
  const write = (name: string, doc: unknown): string => {
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify(doc));
    return file;
  };

  it('accepts a good proof (exit 0), against its report too', async () => {
    const proof = write('good.json', tree.proofs[0]);
    // From another directory than the clone's: the bin finds its sources by its own path.
    const run = await runCli(['proof', 'verify', 'good.json', '--json'], {}, dir);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({ ok: true, firstFailure: null });
    const report = write('report.json', { date: tree.date, sha256: 'x', report: { date: tree.date, liabilities: [{ currency: tree.currency, rootHash: tree.rootHash, total: tree.total, leafCount: tree.proofs.length }] } });
    const both = await runCli(['proof', 'verify', proof, '--report', report], {});
    expect(both.code).toBe(0);
    expect(both.stdout).toMatch(/as in the report/);
  });

  it('rejects a proof whose balance was changed by one minor unit (exit 1, naming why)', async () => {
    const proof = tree.proofs[0] as { balance: string };
    const bumped = write('bumped.json', { ...proof, balance: proof.balance === '1.5' ? '1.500000000000000001' : `${proof.balance}1` });
    const run = await runCli(['proof', 'verify', bumped, '--json'], {});
    expect(run.code).toBe(1);
    expect(run.json<{ ok: boolean; firstFailure: string }>()).toMatchObject({ ok: false, firstFailure: expect.stringMatching(/root mismatch/) });
  });

  it('a missing file is named', async () => {
    const run = await runCli(['proof', 'verify', path.join(dir, 'nope.json')], {});
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/nope\.json: cannot read \(ENOENT\)/);
  });
});

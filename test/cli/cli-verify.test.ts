import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sealReportDocument } from '../../src/eod/report/index.js';
import { reportFor } from '../eod/report-fixture.js';
import { projectRoot, runCli } from './run-cli.js';

const signingKey = generateKeyPairSync('ed25519').privateKey;

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
    // The signed report of that day lists the tree's root and total.
    const body = { ...reportFor(tree.date, null), liabilities: [{ currency: tree.currency, rootHash: tree.rootHash, total: tree.total, leafCount: tree.proofs.length }] };
    const report = write('report.json', sealReportDocument(body, signingKey));
    const both = await runCli(['proof', 'verify', proof, '--report', report], {});
    expect(both.code).toBe(0);
    expect(both.stdout).toMatch(/as in the signed report/);
    // A report whose total was edited after signing is refused, and so is the proof against it.
    const edited = write('edited.json', { ...sealReportDocument(body, signingKey), report: { ...body, liabilities: [{ ...body.liabilities[0]!, total: '1' }] } });
    const refused = await runCli(['proof', 'verify', proof, '--report', edited, '--json'], {});
    expect(refused.code).toBe(1);
    expect(refused.json<{ firstFailure: string }>().firstFailure).toMatch(/edited\.json/);
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

describe('recon report verify', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'recon-cli-report-'));
  const day1 = sealReportDocument(reportFor('2026-11-29', null), signingKey);
  const day2 = sealReportDocument(reportFor('2026-11-30', day1.sha256), signingKey);
  const day3 = sealReportDocument(reportFor('2026-12-01', day2.sha256), signingKey);
  const write = (name: string, doc: unknown): string => {
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify(doc));
    return file;
  };
  const files = [write('d1.json', day1), write('d2.json', day2), write('d3.json', day3)];

  it('accepts a chain of signed days in any order (exit 0)', async () => {
    const run = await runCli(['report', 'verify', files[2]!, files[0]!, files[1]!, '--json'], {});
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({ ok: true, firstFailure: null, checked: [{ ok: true, detail: expect.stringMatching(/3 day\(s\) chained: 2026-11-29, 2026-11-30, 2026-12-01/) }] });
  });

  it('names the first report that fails: an edited figure, then a broken link', async () => {
    const edited = write('d2-edited.json', { ...day2, report: { ...day2.report, breaks: [] } });
    const run = await runCli(['report', 'verify', files[0]!, edited, files[2]!, '--json'], {});
    expect(run.code).toBe(1);
    expect(run.json<{ firstFailure: string }>().firstFailure).toMatch(/^.*d2-edited\.json \(2026-11-30\): /);
    const gap = await runCli(['report', 'verify', files[0]!, files[2]!], {});
    expect(gap.code).toBe(1);
    expect(gap.stdout).toMatch(/no report for 2026-11-30/);
    const untrusted = await runCli(['report', 'verify', ...files, '--trust', 'ab'.repeat(32)], {});
    expect(untrusted.code).toBe(1);
  });
});

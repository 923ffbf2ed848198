import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyProof } from '../../src/eod/proof/verify-proof.js';
import {
  canonicalReportText,
  loadOrCreateSigningKey,
  loadSigningKey,
  publicKeyHex,
  renderReportHtml,
  sealReport,
  sealReportDocument,
  sha256Hex,
  verifyReportChain,
  verifyReportFiles,
  verifyProofWithReportFile,
  verifySealedReport,
  type SealedReport,
} from '../../src/eod/report/index.js';
import { reportFor, sampleTree } from './report-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'recon-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** A key as `openssl genpkey -algorithm ed25519` writes it (node:crypto's PKCS#8 PEM where openssl is missing). */
function opensslKeyFile(name: string): string {
  const path = join(dir, name);
  if (hasOpenssl) {
    const run = spawnSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', path], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`openssl genpkey failed: ${run.stderr}`);
  } else {
    writeFileSync(path, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  }
  return path;
}

const key: KeyObject = loadSigningKey(opensslKeyFile('signing.pem'));

/** Three consecutive days, each chained to the one before. */
function threeDays(signingKey: KeyObject = key): SealedReport[] {
  const docs: SealedReport[] = [];
  let prev: string | null = null;
  for (const date of ['2026-11-28', '2026-11-29', '2026-11-30']) {
    const doc = sealReportDocument(reportFor(date, prev), signingKey);
    docs.push(doc);
    prev = doc.sha256;
  }
  return docs;
}

/** Round-trips through JSON text with one character of the report changed at `needle`. */
function editOneByte(doc: SealedReport, needle: string, replacement: string): unknown {
  const textOf = JSON.stringify(doc);
  const at = textOf.indexOf(needle, textOf.indexOf('"report"'));
  if (at < 0) throw new Error(`${needle} not in the report`);
  expect(replacement).toHaveLength(1);
  return JSON.parse(textOf.slice(0, at) + replacement + textOf.slice(at + 1)) as unknown;
}

describe('sealed report: JCS, Ed25519, chain', () => {
  it('three days chain and verify, in any input order', () => {
    const docs = threeDays();
    expect(docs[0]!.prevSha256).toBeNull();
    expect(docs[1]!.prevSha256).toBe(docs[0]!.sha256);
    expect(verifyReportChain(docs)).toEqual({ ok: true, days: ['2026-11-28', '2026-11-29', '2026-11-30'] });
    expect(verifyReportChain([docs[2], docs[0], docs[1]])).toEqual({ ok: true, days: ['2026-11-28', '2026-11-29', '2026-11-30'] });
    // Through JSON text (a file, jsonb, a NATS reply) nothing changes.
    expect(verifyReportChain(docs.map((d) => JSON.parse(JSON.stringify(d)) as unknown))).toMatchObject({ ok: true });
    for (const doc of docs) {
      expect(doc.sha256).toBe(sha256Hex(canonicalReportText(doc.report)));
      expect(doc.publicKey).toBe(publicKeyHex(key));
    }
  });

  it('editing one byte of the middle report names that day', () => {
    const docs = threeDays();
    // The character right after each needle, inside a string of the middle report.
    for (const needle of ['"total":"', '"userId":"user-', '"kind":"pending_', '"generatedAt":"2026-11-29T21:0', '"timezone":"America/']) {
      const textOf = JSON.stringify(docs[1]);
      const at = textOf.indexOf(needle, textOf.indexOf('"report"')) + needle.length;
      expect(at).toBeGreaterThanOrEqual(needle.length);
      const original = textOf[at]!;
      const replacement = /\d/.test(original) ? String((Number(original) + 1) % 10) : original === original.toUpperCase() ? original.toLowerCase() : original.toUpperCase();
      expect(replacement).not.toBe(original);
      const tampered = JSON.parse(textOf.slice(0, at) + replacement + textOf.slice(at + 1)) as unknown;
      const verdict = verifyReportChain([docs[0], tampered, docs[2]]);
      expect(verdict).toMatchObject({ ok: false, firstFailure: { date: '2026-11-29', index: 1, reason: expect.stringMatching(/^sha256 mismatch/) } });
    }
  });

  it('an edit with the hash recomputed fails the signature; one re-signed with another key breaks the next link, or is refused as untrusted', () => {
    const docs = threeDays();
    const tampered = editOneByte(docs[1]!, 'user-7', 'U') as SealedReport;
    const rehashed = { ...tampered, sha256: sha256Hex(canonicalReportText(tampered.report)) };
    expect(verifyReportChain([docs[0], rehashed, docs[2]])).toMatchObject({ ok: false, firstFailure: { date: '2026-11-29', reason: expect.stringMatching(/^the signature does not verify/) } });

    const forger = generateKeyPairSync('ed25519').privateKey;
    const resigned = sealReportDocument(tampered.report, forger);
    expect(verifySealedReport(resigned)).toMatchObject({ ok: true });
    expect(verifyReportChain([docs[0], resigned, docs[2]])).toMatchObject({ ok: false, firstFailure: { date: '2026-11-30', index: 2, reason: expect.stringMatching(/^prevSha256 .* is not the sha256 of 2026-11-29's report/) } });
    expect(verifyReportChain([docs[0], resigned, docs[2]], { trustedPublicKeys: [publicKeyHex(key)] })).toMatchObject({ ok: false, firstFailure: { date: '2026-11-29', reason: expect.stringMatching(/not a trusted key/) } });
    expect(verifyReportChain(docs, { trustedPublicKeys: [publicKeyHex(key)] })).toMatchObject({ ok: true });
  });

  it('a gap names the missing date; a duplicate day, a mismatched envelope and a bad signature are refused', () => {
    const docs = threeDays();
    expect(verifyReportChain([docs[0], docs[2]])).toMatchObject({ ok: false, firstFailure: { date: '2026-11-30', index: 1, missingDate: '2026-11-29', reason: expect.stringContaining('no report for 2026-11-29') } });
    expect(verifyReportChain([docs[0], docs[0]])).toMatchObject({ ok: false, firstFailure: { reason: 'two reports for 2026-11-28' } });
    expect(verifySealedReport({ ...docs[1], date: '2026-11-30' })).toMatchObject({ ok: false, reason: 'the report is dated 2026-11-29, the document 2026-11-30' });
    expect(verifySealedReport({ ...docs[1], prevSha256: null })).toMatchObject({ ok: false, reason: expect.stringMatching(/prevSha256/) });
    const flipped = docs[1]!.signature.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    expect(verifySealedReport({ ...docs[1], signature: flipped })).toMatchObject({ ok: false, reason: expect.stringMatching(/^the signature does not verify/) });
    expect(verifySealedReport({ ...docs[1], sha256: docs[1]!.sha256.toUpperCase() })).toMatchObject({ ok: false, reason: expect.stringMatching(/^not a sealed report: sha256/) });
    expect(verifyReportChain([])).toMatchObject({ ok: false, firstFailure: { reason: 'no reports given' } });
    expect(verifyReportChain([docs[0], { nonsense: true }])).toMatchObject({ ok: false, firstFailure: { date: null, index: 1 } });
    // The first report given may point at a day not given.
    expect(verifyReportChain([docs[1], docs[2]])).toEqual({ ok: true, days: ['2026-11-29', '2026-11-30'] });
  });

  it('verifyReportFiles reads admin.eod.report answers and names the failing file', async () => {
    const docs = threeDays();
    const paths = docs.map((doc, i) => {
      const path = join(dir, `report-${i}.json`);
      writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
      return path;
    });
    expect(await verifyReportFiles(paths)).toEqual({ ok: true, days: ['2026-11-28', '2026-11-29', '2026-11-30'] });
    // One byte of the middle file, inside its report: a digit of the break's delta.
    const middle = readFileSync(paths[1]!, 'utf8');
    const at = middle.indexOf('"delta": "0.1"') + '"delta": "0.'.length;
    writeFileSync(paths[1]!, `${middle.slice(0, at)}2${middle.slice(at + 1)}`);
    expect(await verifyReportFiles(paths)).toMatchObject({ ok: false, firstFailure: { date: '2026-11-29', index: 1, path: paths[1], reason: expect.stringMatching(/^sha256 mismatch/) } });
    expect(await verifyReportFiles([paths[0]!, join(dir, 'absent.json')])).toMatchObject({ ok: false, firstFailure: { index: 1, reason: expect.stringContaining('ENOENT') } });
  });

  it('refuses to seal a report that is not whole: a missing step, a float, no prevSha256', () => {
    const report = reportFor('2026-11-30', null);
    expect(() => sealReport({ ...report, steps: report.steps.slice(1) }, key)).toThrow(/step balance_snapshot appears 0 times/);
    expect(() => sealReport({ ...report, steps: [...report.steps, report.steps[0]!] }, key)).toThrow(/step balance_snapshot appears 2 times/);
    const withFloat = { ...report, steps: report.steps.map((s) => (s.name === 'pnl' ? { ...s, figures: { ratio: 0.5 } } : s)) };
    expect(() => sealReport(withFloat, key)).toThrow(/report\.steps\[1\]\.figures\.ratio is a number that is not a safe integer/);
    const { prevSha256: _dropped, ...withoutPrev } = report;
    expect(() => sealReport(withoutPrev as typeof report, key)).toThrow(/prevSha256/);
    expect(() => sealReport(report, generateKeyPairSync('ed25519').publicKey)).toThrow(/not an Ed25519 private key/);
  });

  it("a user's proof verifies against the root of a sealed, verified report", () => {
    const tree = sampleTree();
    const doc = sealReportDocument(reportFor('2026-11-30', null, tree), key);
    expect(verifySealedReport(doc)).toMatchObject({ ok: true });
    const proof = tree.proofFor('user-12', { date: '2026-11-30', currency: 'BTC' });
    expect(verifyProof(proof, { report: doc })).toMatchObject({ ok: true, checkedAgainstReport: true });
    expect(verifyProof(proof, { report: threeDays()[2] })).toMatchObject({ ok: false, reason: expect.stringMatching(/root/) });
  });

  it('verifyProofWithReportFile checks the report seal, then the proof against it', async () => {
    const tree = sampleTree();
    const doc = sealReportDocument(reportFor('2026-11-30', null, tree), key);
    const proofPath = join(dir, 'user-12.proof.json');
    const reportPath = join(dir, 'signed.report.json');
    writeFileSync(proofPath, JSON.stringify(tree.proofFor('user-12', { date: '2026-11-30', currency: 'BTC' })));
    writeFileSync(reportPath, JSON.stringify(doc));
    expect(await verifyProofWithReportFile(proofPath, reportPath)).toMatchObject({ ok: true, checkedAgainstReport: true });
    expect(await verifyProofWithReportFile(proofPath, reportPath, { trustedPublicKeys: ['00'.repeat(32)] })).toMatchObject({ ok: false, reason: expect.stringMatching(/not a trusted key/) });
    // A report whose root was swapped for another is refused by its seal before any proof check.
    const swapped = { ...doc, report: { ...doc.report, liabilities: [{ ...doc.report.liabilities[0]!, total: '1' }] } };
    writeFileSync(reportPath, JSON.stringify(swapped));
    expect(await verifyProofWithReportFile(proofPath, reportPath)).toMatchObject({ ok: false, reason: expect.stringMatching(/sha256 mismatch/) });
  });
});

describe('RFC 8785 (JCS) encoding', () => {
  it("matches the RFC's sample (§3.2.2: numbers, string escapes, literals)", () => {
    const input = JSON.parse('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}') as unknown;
    expect(canonicalReportText(input)).toBe('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  });

  it("sorts keys by UTF-16 code units (the RFC's §3.2.3 example)", () => {
    const input = JSON.parse('{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}') as Record<string, string>;
    const order = [...canonicalReportText(input).matchAll(/":"([^"]+)"/g)].map((m) => m[1]);
    expect(order).toEqual(['Carriage Return', 'One', 'Control', 'Latin Small Letter O With Diaeresis', 'Euro Sign', 'Emoji: Grinning Face', 'Hebrew Letter Dalet With Dagesh']);
  });

  it('does not depend on key order or whitespace', () => {
    expect(sha256Hex(canonicalReportText({ b: 1, a: [1, { d: 'x', c: null }] }))).toBe(sha256Hex(canonicalReportText(JSON.parse('{ "a" : [ 1 , {"c":null,"d":"x"} ], "b":1 }'))));
  });
});

describe('signing key', () => {
  it.skipIf(!hasOpenssl)("loads openssl's Ed25519 PEM and its public key hex is openssl's raw public key", () => {
    const path = opensslKeyFile('openssl.pem');
    const der = spawnSync('openssl', ['pkey', '-in', path, '-pubout', '-outform', 'DER']);
    expect(der.status).toBe(0);
    const raw = der.stdout.toString('hex').slice(-64);
    expect(publicKeyHex(loadSigningKey(path))).toBe(raw);
    expect(raw).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names the file and EOD_SIGNING_KEY_FILE, on one line, never the key, when it is missing or not Ed25519 PKCS#8', () => {
    const missing = join(dir, 'nope.pem');
    expect(() => loadSigningKey(missing)).toThrow(`EOD_SIGNING_KEY_FILE: cannot read the signing key file ${missing} (ENOENT)`);
    const ecPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const ecPath = join(dir, 'ec.pem');
    writeFileSync(ecPath, ecPem);
    expect(() => loadSigningKey(ecPath)).toThrow(`EOD_SIGNING_KEY_FILE: ${ecPath} holds a ec key, not Ed25519`);
    const sec1 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString();
    writeFileSync(join(dir, 'sec1.pem'), sec1);
    expect(() => loadSigningKey(join(dir, 'sec1.pem'))).toThrow(/is not a PKCS#8 PEM private key/);
    const broken = readFileSync(opensslKeyFile('broken.pem'), 'utf8').replace(/\n(.)/, '\n!$1');
    writeFileSync(join(dir, 'broken.pem'), broken);
    try {
      loadSigningKey(join(dir, 'broken.pem'));
      throw new Error('loaded a broken key');
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/^EOD_SIGNING_KEY_FILE: .*broken\.pem does not hold a readable PKCS#8 private key$/);
      expect(message).not.toContain('\n');
      const body = broken.split('\n')[1]!;
      expect(message).not.toContain(body.slice(2, 20));
    }
  });

  it('the embedded default creates the key once (0600) and loads the same key after', () => {
    const path = join(dir, 'embedded', 'data', 'eod-signing-key.pem');
    const first = loadOrCreateSigningKey(path);
    expect(first.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const second = loadOrCreateSigningKey(path);
    expect(second.created).toBe(false);
    expect(publicKeyHex(second.key)).toBe(publicKeyHex(first.key));
    expect(String(first.key)).not.toContain('PRIVATE');
    expect(JSON.stringify({ key: first.key })).toBe('{"key":{}}');
    // A file that exists but is not an Ed25519 key is an error, never replaced.
    const ecPath = join(dir, 'embedded', 'ec.pem');
    writeFileSync(ecPath, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const before = readFileSync(ecPath, 'utf8');
    expect(() => loadOrCreateSigningKey(ecPath)).toThrow(/not Ed25519/);
    expect(readFileSync(ecPath, 'utf8')).toBe(before);
  });
});

describe('HTML page', () => {
  it('is self-contained (no http(s) reference, no script, no external resource) and escapes every value', () => {
    const report = reportFor('2026-11-30', null);
    const hostile = {
      ...report,
      steps: report.steps.map((s) => (s.name === 'sanctions' ? { ...s, reason: '<script>alert(1)</script>', figures: { note: '<img src=x onerror=alert(2)>' } } : s)),
      breaks: [{ ...report.breaks[0]!, kind: '"><script>alert(3)</script>', userId: "o'brien&co" }],
    };
    const html = renderReportHtml(sealReportDocument(hostile, key));
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/<[^>]*\b(src|href)=/i);
    expect(html).not.toMatch(/@import|url\(/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;');
    expect(html).toContain('o&#39;brien&amp;co');
  });

  it('shows the seal, the cut, every step, the breaks chart and the liabilities', () => {
    const doc = sealReportDocument(reportFor('2026-11-30', 'cd'.repeat(32)), key);
    const html = renderReportHtml(doc);
    for (const value of [doc.sha256, doc.prevSha256!, doc.publicKey, doc.signature, doc.report.liabilities[0]!.rootHash, '1234567', 'America/New_York']) expect(html).toContain(value);
    for (const step of doc.report.steps) expect(html).toContain(`<code>${step.name}</code>`);
    expect(html.match(/<svg /g)).toHaveLength(2);
    for (const boundary of ['me_db', 'db_custody', 'db_chain']) expect(html).toContain(`>${boundary}</text>`);
    expect(html).toContain('1 open');
    writeFileSync(join(dir, 'report.html'), html);
  });
});

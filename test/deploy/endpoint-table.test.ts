import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { adminEndpoints } from '../../src/admin/endpoints.js';

/**
 * The admin endpoint table (src/admin/endpoints.ts) and what the deploy config and the
 * contract say of the auditor role: the auditor may call exactly the table's auditor rows.
 */
const config = readFileSync(new URL('../../deploy/nats-server.conf', import.meta.url), 'utf8');
const contract = readFileSync(new URL('../../docs/contract.md', import.meta.url), 'utf8');
const auditorRows = adminEndpoints.filter((e) => e.auditor).map((e) => `admin.${e.subject}`).sort();

/** The quoted `admin.*` subjects in a piece of text. */
const adminSubjectsIn = (text: string): string[] => [...text.matchAll(/["`](admin\.[a-z.>]+)["`]/g)].map((m) => m[1]!);

function auditorPublish(): { allow: string[]; deny: string[] } {
  const block = /user: auditor[\s\S]*?publish: \{([\s\S]*?)\n\s*\}/.exec(config)?.[1];
  if (!block) throw new Error('no auditor publish block in deploy/nats-server.conf');
  const list = (name: string) => adminSubjectsIn([...block.matchAll(/\b(allow|deny):\s*\[([\s\S]*?)\]/g)].find((m) => m[1] === name)?.[2] ?? '');
  return { allow: list('allow'), deny: list('deny') };
}

/** Does a NATS subject pattern (with `>` and `*`) match a subject? */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

describe('the admin endpoint table', () => {
  it('has one row per subject', () => {
    const subjects = adminEndpoints.map((e) => e.subject);
    expect(new Set(subjects).size).toBe(subjects.length);
  });

  it('deploy/nats-server.conf lets the auditor publish exactly the auditor rows', () => {
    const { allow, deny } = auditorPublish();
    expect(allow.length).toBeGreaterThan(0);
    expect([...allow].sort()).toEqual(auditorRows);
    for (const subject of auditorRows) expect(deny.some((d) => matches(d, subject)), subject).toBe(false);
  });

  it('every other row is refused to the auditor (not allowed; denied outright where the config names it)', () => {
    const { allow } = auditorPublish();
    for (const endpoint of adminEndpoints.filter((e) => !e.auditor)) {
      expect(allow.some((a) => matches(a, `admin.${endpoint.subject}`)), endpoint.subject).toBe(false);
    }
  });

  it("docs/contract.md's auditor row names the same subjects", () => {
    const row = contract.split('\n').find((line) => line.startsWith('| `auditor` |'));
    expect(row).toBeDefined();
    const published = row!.split('|')[2] ?? '';
    expect(adminSubjectsIn(published).sort()).toEqual(auditorRows);
  });

  it('every row is in the contract', () => {
    for (const endpoint of adminEndpoints) expect(contract, endpoint.subject).toContain(`admin.${endpoint.subject}`);
  });
});

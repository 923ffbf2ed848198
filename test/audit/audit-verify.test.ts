import { describe, expect, it } from 'vitest';
import { accountEventOf } from '../../src/actors/account-event.js';
import { genesisHash, newTransitionRow, type AccountRecord, type TransitionRow } from '../../src/actors/account-record.js';
import { verifyAccount } from '../../src/audit/audit-verify.js';
import type { AccountState, Authority } from '../../src/fsm/index.js';

/** A consistent history: rows chained by hash, the events they published, the KV record. */
function history(userId: string, steps: Array<[AccountState | null, AccountState, Authority]>): { rows: TransitionRow[]; record: AccountRecord } {
  const rows: TransitionRow[] = [];
  for (const [i, [from, to, authority]] of steps.entries()) {
    rows.push(newTransitionRow({
      transitionId: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`, userId, seq: i + 1, commandId: `c${i + 1}`,
      from, to, reasonCode: 'r', authority, actorId: 'a', atMs: Date.UTC(2026, 11, 1, 0, 0, i), prevHash: rows.at(-1)?.hash ?? genesisHash,
    }));
  }
  const last = rows.at(-1)!;
  return { rows, record: { userId, state: last.to, closureRequestedAt: null, seq: last.seq, last } };
}

const steps: Array<[AccountState | null, AccountState, Authority]> = [[null, 'pending_kyc', 'self'], ['pending_kyc', 'kyc_approved', 'system'], ['kyc_approved', 'active', 'system'], ['active', 'suspended', 'system']];

describe('verifyAccount: events, audit rows and KV', () => {
  it('finds nothing when all three agree', () => {
    const { rows, record } = history('u', steps);
    expect(verifyAccount('u', rows.map(accountEventOf), rows, record).firstDifference).toBeNull();
  });

  it('names an edited audit row (the chain breaks there)', () => {
    const { rows, record } = history('u', steps);
    const edited = rows.map((r) => (r.seq === 3 ? { ...r, actorId: 'someone-else' } : r));
    expect(verifyAccount('u', rows.map(accountEventOf), edited, record).firstDifference).toEqual({ seq: 3, transitionId: rows[2]!.transitionId, reason: 'audit table: hash does not match the row' });
  });

  it('names an audit row re-hashed to hide the edit: the event stream disagrees', () => {
    const { rows, record } = history('u', steps);
    const forged = history('u', steps.map(([f, t, a], i) => [f, t, i === 1 ? 'admin' : a]));
    expect(verifyAccount('u', rows.map(accountEventOf), forged.rows, record).firstDifference).toMatchObject({ seq: 2, reason: expect.stringMatching(/disagree on authority \(audit: admin, event: system\)/) });
  });

  it('names a missing row, a missing event, and KV behind the stream', () => {
    const { rows, record } = history('u', steps);
    const events = rows.map(accountEventOf);
    expect(verifyAccount('u', events, rows.slice(0, 3), record).firstDifference).toMatchObject({ seq: 4, reason: 'in the event stream but missing from the audit table' });
    expect(verifyAccount('u', events.slice(0, 3), rows.slice(0, 3), record).firstDifference).toMatchObject({ seq: 4, reason: 'KV is at transition 4, the event stream at 3' });
    expect(verifyAccount('u', events, rows, { ...record, state: 'active' }).firstDifference).toMatchObject({ seq: 4, reason: expect.stringMatching(/^KV says active/) });
  });

  it('starts at the first event the stream still holds (retention), without calling older rows a difference', () => {
    const { rows, record } = history('u', steps);
    const result = verifyAccount('u', rows.map(accountEventOf).slice(2), rows, record);
    expect(result).toMatchObject({ replayableFromSeq: 3, firstDifference: null });
  });
});

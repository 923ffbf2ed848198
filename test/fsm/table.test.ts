import { describe, expect, it } from 'vitest';
import { accountStates, allowedEdges, authorities, decideTransition, type AccountSnapshot, type AccountState, type Authority } from '../../src/fsm/index.js';
import { COOLING_OFF, T0, allAuthorities, allStates, expectedEdges, expectedVerdict, fromKeys, type FromKey } from './expected-table.js';

/** A snapshot and clock that satisfy every time/closure guard for this particular cell. */
function setup(from: FromKey, to: AccountState, authority: Authority): { current: AccountSnapshot | null; nowMs: number } {
  if (from === 'new') return { current: null, nowMs: T0 };
  if (from !== 'restricted') return { current: { state: from, closureRequestedAt: null }, nowMs: T0 };
  const current = { state: from, closureRequestedAt: T0 };
  // Self cancels inside the window; everyone else acts once it has elapsed.
  const selfCancel = to === 'active' && authority === 'self';
  return { current, nowMs: selfCancel ? T0 + COOLING_OFF - 1 : T0 + COOLING_OFF };
}

const cells = fromKeys.flatMap((from) => allStates.flatMap((to) => allAuthorities.map((authority) => ({ from, to, authority }))));

describe('transition table: every (from, to, authority) cell', () => {
  it('covers 9 x 8 x 3 cells and the exported state/authority lists match the brief', () => {
    expect(cells).toHaveLength(216);
    expect([...accountStates]).toEqual([...allStates]);
    expect([...authorities]).toEqual([...allAuthorities]);
  });

  it.each(cells)('$from -> $to by $authority', ({ from, to, authority }) => {
    const { current, nowMs } = setup(from, to, authority);
    const before = structuredClone(current);
    const result = decideTransition(current, { target: to, authority, reasonCode: 'test', nowMs, balancesZero: true, coolingOffMs: COOLING_OFF });
    const verdict = expectedVerdict(from, to, authority);
    const fromState = from === 'new' ? null : from;
    if (verdict === 'ALLOWED') {
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      expect(result.from).toBe(fromState);
      expect(result.to).toBe(to);
      expect(result.next.state).toBe(to);
    } else {
      expect(result).toEqual({
        ok: false,
        error: { code: 'FORBIDDEN_TRANSITION', reason: verdict, from: fromState, to, authority, message: expect.any(String) },
      });
    }
    expect(current).toEqual(before);
  });
});

describe('allowedEdges (exported data)', () => {
  it('lists exactly the edges of the brief, one row per (from, to)', () => {
    const exported = allowedEdges.map((e) => ({ from: e.from ?? 'new', to: e.to, authorities: [...e.authorities].sort() }));
    const expected = fromKeys.flatMap((from) =>
      Object.entries(expectedEdges[from]).map(([to, who]) => ({ from, to, authorities: [...(who ?? [])].sort() })),
    );
    const byKey = (a: { from: string; to: string }, b: { from: string; to: string }): number =>
      `${a.from}>${a.to}`.localeCompare(`${b.from}>${b.to}`);
    expect(exported.sort(byKey)).toEqual(expected.sort(byKey));
  });

  it('is frozen so documentation generators cannot alter it', () => {
    expect(Object.isFrozen(allowedEdges)).toBe(true);
    for (const e of allowedEdges) {
      expect(Object.isFrozen(e)).toBe(true);
      expect(Object.isFrozen(e.authorities)).toBe(true);
    }
  });
});

import { describe, expect, it } from 'vitest';
import {
  CLOSURE_REQUESTED,
  DEFAULT_COOLING_OFF_MS,
  ReplayError,
  decideTransition,
  replayTransitions,
  type AccountSnapshot,
  type AccountState,
  type Authority,
  type TransitionRecord,
  type TransitionResult,
} from '../../src/fsm/index.js';
import { COOLING_OFF, DAY, T0 } from './expected-table.js';

/** The closure cooling-off (brief §3, Q5): 30 days in `restricted`, cancellable by the holder, then closed by the EOD. */

interface Move {
  target: AccountState;
  authority: Authority;
  reasonCode?: string;
  balancesZero?: boolean;
}

function decide(current: AccountSnapshot | null, nowMs: number, move: Move): TransitionResult {
  return decideTransition(current, {
    target: move.target,
    authority: move.authority,
    reasonCode: move.reasonCode ?? 'test',
    nowMs,
    balancesZero: move.balancesZero ?? true,
    coolingOffMs: COOLING_OFF,
  });
}

/** Decides and requires acceptance; returns the new snapshot. */
function accept(current: AccountSnapshot | null, nowMs: number, move: Move): AccountSnapshot {
  const result = decide(current, nowMs, move);
  if (!result.ok) throw new Error(`expected acceptance, got ${result.error.reason}: ${result.error.message}`);
  return result.next;
}

/** Decides, requires rejection for `reason`, and that the snapshot it was given is untouched. */
function expectRejected(current: AccountSnapshot | null, nowMs: number, move: Move, reason: string): void {
  const before = structuredClone(current);
  const result = decide(current, nowMs, move);
  expect(result).toEqual({
    ok: false,
    error: {
      code: 'FORBIDDEN_TRANSITION',
      reason,
      from: current?.state ?? null,
      to: move.target,
      authority: move.authority,
      message: expect.any(String),
    },
  });
  expect(current).toEqual(before);
}

const active: AccountSnapshot = { state: 'active', closureRequestedAt: null };

/** An active account whose holder asked to close it at `T0`. */
const pendingClosure = (): AccountSnapshot => accept(active, T0, { target: 'restricted', authority: 'self', reasonCode: CLOSURE_REQUESTED });

/** An active account that staff restricted for something other than a closure. */
const restrictedByAdmin = (): AccountSnapshot => accept(active, T0, { target: 'restricted', authority: 'admin', reasonCode: 'sanctions_hit' });

describe('the default cooling-off', () => {
  it('is 30 days', () => {
    expect(DEFAULT_COOLING_OFF_MS).toBe(30 * DAY);
    expect(COOLING_OFF).toBe(DEFAULT_COOLING_OFF_MS);
  });
});

describe('requesting closure: active -> restricted', () => {
  it('by self starts a pending closure at the request time', () => {
    expect(pendingClosure()).toEqual({ state: 'restricted', closureRequestedAt: T0 });
  });

  it('by self starts one whatever reason code the client sent, since a holder restricts only to leave', () => {
    expect(accept(active, T0 + 5, { target: 'restricted', authority: 'self', reasonCode: 'off_boarding' })).toEqual({
      state: 'restricted',
      closureRequestedAt: T0 + 5,
    });
  });

  it.each(['admin', 'system'] as const)('by %s starts one only with reason closure_requested', (authority) => {
    expect(accept(active, T0, { target: 'restricted', authority, reasonCode: CLOSURE_REQUESTED })).toEqual({
      state: 'restricted',
      closureRequestedAt: T0,
    });
    expect(accept(active, T0, { target: 'restricted', authority, reasonCode: 'dormancy' })).toEqual({
      state: 'restricted',
      closureRequestedAt: null,
    });
  });

  it('is not open to self from suspended, so a closure request cannot lift a suspension', () => {
    expectRejected({ state: 'suspended', closureRequestedAt: null }, T0, { target: 'restricted', authority: 'self' }, 'AUTHORITY_NOT_ALLOWED');
  });

  it('leaving restricted clears the pending closure', () => {
    expect(accept(pendingClosure(), T0 + DAY, { target: 'active', authority: 'self' })).toEqual(active);
    expect(accept(pendingClosure(), T0 + DAY, { target: 'banned', authority: 'admin' })).toEqual({ state: 'banned', closureRequestedAt: null });
  });
});

describe('cancelling: restricted -> active by self', () => {
  const cancel: Move = { target: 'active', authority: 'self', reasonCode: 'closure_cancelled' };

  it('is accepted from the request instant until the last millisecond of the window', () => {
    for (const nowMs of [T0, T0 + DAY, T0 + COOLING_OFF - 1]) {
      expect(accept(pendingClosure(), nowMs, cancel)).toEqual({ state: 'active', closureRequestedAt: null });
    }
  });

  it('is COOLING_OFF_ELAPSED once the window has ended', () => {
    for (const nowMs of [T0 + COOLING_OFF, T0 + COOLING_OFF + 1, T0 + 365 * DAY]) {
      expectRejected(pendingClosure(), nowMs, cancel, 'COOLING_OFF_ELAPSED');
    }
  });

  it('is NO_PENDING_CLOSURE when staff restricted the account for another reason', () => {
    expectRejected(restrictedByAdmin(), T0 + DAY, cancel, 'NO_PENDING_CLOSURE');
  });

  it('a cancelled closure can be requested again and gets a fresh window', () => {
    const cancelled = accept(pendingClosure(), T0 + 10 * DAY, cancel);
    const again = accept(cancelled, T0 + 20 * DAY, { target: 'restricted', authority: 'self', reasonCode: CLOSURE_REQUESTED });
    expect(again).toEqual({ state: 'restricted', closureRequestedAt: T0 + 20 * DAY });
    // Past the first window, still inside the second.
    expect(accept(again, T0 + 45 * DAY, cancel).state).toBe('active');
    expectRejected(again, T0 + 45 * DAY, { target: 'closed', authority: 'system' }, 'COOLING_OFF_NOT_ELAPSED');
  });
});

describe('executing: restricted -> closed by system (the EOD)', () => {
  const close: Move = { target: 'closed', authority: 'system', reasonCode: 'closure_executed' };

  it('is COOLING_OFF_NOT_ELAPSED during the window', () => {
    for (const nowMs of [T0, T0 + DAY, T0 + COOLING_OFF - 1]) {
      expectRejected(pendingClosure(), nowMs, close, 'COOLING_OFF_NOT_ELAPSED');
    }
  });

  it('is accepted once the window has ended', () => {
    for (const nowMs of [T0 + COOLING_OFF, T0 + COOLING_OFF + 1, T0 + 365 * DAY]) {
      expect(accept(pendingClosure(), nowMs, close)).toEqual({ state: 'closed', closureRequestedAt: null });
    }
  });

  it('is NO_PENDING_CLOSURE when restricted without a closure request, however long ago', () => {
    for (const nowMs of [T0 + DAY, T0 + COOLING_OFF, T0 + 365 * DAY]) {
      expectRejected(restrictedByAdmin(), nowMs, close, 'NO_PENDING_CLOSURE');
    }
    const dormant = accept({ state: 'suspended', closureRequestedAt: null }, T0, { target: 'restricted', authority: 'system', reasonCode: 'dormancy' });
    expectRejected(dormant, T0 + 365 * DAY, close, 'NO_PENDING_CLOSURE');
  });

  it('follows the cooling-off setting passed in, not a built-in 30 days', () => {
    const twoDays = (nowMs: number): TransitionResult =>
      decideTransition(pendingClosure(), { target: 'closed', authority: 'system', reasonCode: 'x', nowMs, balancesZero: true, coolingOffMs: 2 * DAY });
    expect(twoDays(T0 + 2 * DAY - 1)).toMatchObject({ ok: false, error: { reason: 'COOLING_OFF_NOT_ELAPSED' } });
    expect(twoDays(T0 + 2 * DAY)).toMatchObject({ ok: true, next: { state: 'closed' } });
  });
});

describe('admin closes', () => {
  it.each([
    ['a pending closure, at once', pendingClosure, T0],
    ['a pending closure, after the window', pendingClosure, T0 + COOLING_OFF + 1],
    ['an account restricted for another reason', restrictedByAdmin, T0 + DAY],
  ] as const)('restricted -> closed with zero balances: %s', (_label, start, nowMs) => {
    expect(accept(start(), nowMs, { target: 'closed', authority: 'admin', reasonCode: 'closure' })).toEqual({
      state: 'closed',
      closureRequestedAt: null,
    });
  });

  it('kyc_rejected -> closed (abandoned application), as may the holder', () => {
    const rejected: AccountSnapshot = { state: 'kyc_rejected', closureRequestedAt: null };
    expect(accept(rejected, T0, { target: 'closed', authority: 'admin' }).state).toBe('closed');
    expect(accept(rejected, T0, { target: 'closed', authority: 'self' }).state).toBe('closed');
  });

  it('and may restore a restricted account at any time, cooling-off or not', () => {
    expect(accept(pendingClosure(), T0 + COOLING_OFF + 1, { target: 'active', authority: 'admin' })).toEqual(active);
    expect(accept(restrictedByAdmin(), T0 + DAY, { target: 'active', authority: 'admin' })).toEqual(active);
  });
});

describe('BALANCES_NOT_ZERO: nobody closes an account with funds left', () => {
  const rejected: AccountSnapshot = { state: 'kyc_rejected', closureRequestedAt: null };

  it.each([
    ['system, restricted after the window', pendingClosure, T0 + COOLING_OFF, 'system'],
    ['admin, restricted with a pending closure', pendingClosure, T0, 'admin'],
    ['admin, restricted for another reason', restrictedByAdmin, T0, 'admin'],
    ['self, kyc_rejected', () => rejected, T0, 'self'],
    ['admin, kyc_rejected', () => rejected, T0, 'admin'],
  ] as const)('%s', (_label, start, nowMs, authority) => {
    expectRejected(start(), nowMs, { target: 'closed', authority, balancesZero: false }, 'BALANCES_NOT_ZERO');
  });

  it('the closure stays pending, so the EOD can close once the holder has withdrawn everything', () => {
    const pending = pendingClosure();
    expectRejected(pending, T0 + COOLING_OFF, { target: 'closed', authority: 'system', balancesZero: false }, 'BALANCES_NOT_ZERO');
    expect(accept(pending, T0 + COOLING_OFF + DAY, { target: 'closed', authority: 'system' }).state).toBe('closed');
  });

  it('inside the window the cooling-off is named first: it is the more structural obstacle', () => {
    expectRejected(pendingClosure(), T0 + DAY, { target: 'closed', authority: 'system', balancesZero: false }, 'COOLING_OFF_NOT_ELAPSED');
  });

  it('balances are not consulted for moves other than to closed', () => {
    expect(accept(pendingClosure(), T0 + DAY, { target: 'active', authority: 'self', balancesZero: false }).state).toBe('active');
  });
});

describe('replayTransitions', () => {
  const history: TransitionRecord[] = [
    { from: null, to: 'pending_kyc', authority: 'self', reasonCode: 'signup', atMs: T0 },
    { from: 'pending_kyc', to: 'kyc_approved', authority: 'system', reasonCode: 'kyc_decision', atMs: T0 + 1 },
    { from: 'kyc_approved', to: 'active', authority: 'system', reasonCode: 'first_deposit', atMs: T0 + 2 },
    { from: 'active', to: 'restricted', authority: 'self', reasonCode: CLOSURE_REQUESTED, atMs: T0 + DAY },
  ];

  function replayError(records: readonly TransitionRecord[]): ReplayError {
    try {
      replayTransitions(records);
    } catch (error) {
      expect(error).toBeInstanceOf(ReplayError);
      return error as ReplayError;
    }
    throw new Error('expected replayTransitions to throw');
  }

  it('of nothing is no account; of a history is its last snapshot, pending closure included', () => {
    expect(replayTransitions([])).toBeNull();
    expect(replayTransitions(history)).toEqual({ state: 'restricted', closureRequestedAt: T0 + DAY });
    const closed = [...history, { from: 'restricted', to: 'closed', authority: 'system', reasonCode: 'closure_executed', atMs: T0 + DAY + COOLING_OFF } as const];
    expect(replayTransitions(closed)).toEqual({ state: 'closed', closureRequestedAt: null });
  });

  it('throws on a row that does not start where the previous one ended', () => {
    const gap: TransitionRecord = { from: 'active', to: 'suspended', authority: 'system', reasonCode: 'recon_freeze', atMs: T0 + 2 };
    const error = replayError([history[0]!, history[1]!, gap]);
    expect(error.index).toBe(2);
    expect(error.record).toEqual(gap);
    expect(error.message).toContain('kyc_approved');
  });

  it('throws on a first row that is not a creation', () => {
    expect(replayError([history[1]!]).index).toBe(0);
  });

  it('throws on a forbidden edge, even when it starts in the right place', () => {
    const skip: TransitionRecord = { from: 'pending_kyc', to: 'active', authority: 'admin', reasonCode: 'x', atMs: T0 + 1 };
    const error = replayError([history[0]!, skip]);
    expect(error.index).toBe(1);
    expect(error.message).toContain('NO_SUCH_EDGE');
  });

  it('throws on an edge the row\'s authority may not take', () => {
    const selfApproved: TransitionRecord = { from: 'pending_kyc', to: 'kyc_approved', authority: 'self', reasonCode: 'x', atMs: T0 + 1 };
    expect(replayError([history[0]!, selfApproved]).message).toContain('AUTHORITY_NOT_ALLOWED');
  });

  it('throws on a row leaving a terminal state', () => {
    const closedThenBanned: TransitionRecord[] = [
      history[0]!,
      { from: 'pending_kyc', to: 'kyc_rejected', authority: 'system', reasonCode: 'kyc_decision', atMs: T0 + 1 },
      { from: 'kyc_rejected', to: 'closed', authority: 'self', reasonCode: 'abandoned', atMs: T0 + 2 },
      { from: 'closed', to: 'banned', authority: 'admin', reasonCode: 'fraud', atMs: T0 + 3 },
    ];
    expect(replayError(closedThenBanned).index).toBe(3);
  });

  it('throws on a system closure with no closure pending (the log alone shows it)', () => {
    const records: TransitionRecord[] = [
      ...history.slice(0, 3),
      { from: 'active', to: 'restricted', authority: 'admin', reasonCode: 'sanctions_hit', atMs: T0 + DAY },
      { from: 'restricted', to: 'closed', authority: 'system', reasonCode: 'closure_executed', atMs: T0 + DAY + COOLING_OFF },
    ];
    const error = replayError(records);
    expect(error.index).toBe(4);
    expect(error.message).toContain('NO_PENDING_CLOSURE');
  });
});

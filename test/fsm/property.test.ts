import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLOSURE_REQUESTED,
  decideTransition,
  replayTransitions,
  type AccountSnapshot,
  type AccountState,
  type Authority,
  type ForbiddenReason,
  type TransitionRecord,
} from '../../src/fsm/index.js';
import { COOLING_OFF, DAY, T0, allAuthorities, allStates, expectedEdges, expectedVerdict, type FromKey } from './expected-table.js';

/**
 * Random command sequences for one account, folded through decideTransition from "no account".
 * Checked against test/fsm/expected-table.ts (hand-written from the brief) and against a small
 * independent model of the closure rules, never against src's own edge table.
 *
 * (a) every accepted step is an edge of the brief's table for its authority;
 * (b) a rejected command leaves the snapshot deeply equal and its error names a known reason;
 * (c) replayTransitions(accepted records) reproduces the final snapshot exactly (and every prefix);
 * (d) once closed or banned, nothing is accepted again (only NO_SUCH_EDGE);
 * (e) -> closed is never accepted with balancesZero = false;
 * plus: accept/reject agrees with the model, a rejection's reason is a rule the model sees broken,
 * and closureRequestedAt is exactly the model's pending-closure time (null outside restricted).
 */

const forbiddenReasons: readonly ForbiddenReason[] = [
  'NO_SUCH_EDGE',
  'AUTHORITY_NOT_ALLOWED',
  'BALANCES_NOT_ZERO',
  'COOLING_OFF_NOT_ELAPSED',
  'COOLING_OFF_ELAPSED',
  'NO_PENDING_CLOSURE',
];

/** How the clock moves before a command; it never goes backwards. */
type ClockStep =
  | { kind: 'advance'; ms: number }
  // Land just before / on / just after the end of the pending closure's window, if one is pending.
  | { kind: 'windowEdge'; offsetMs: -1 | 0 | 1 };

interface Command {
  /**
   * 'any': `target` and `authority` as drawn. 'edge': the `pick`-th target the brief allows from
   * the current state, `authority` as drawn. 'allowed': that target and the `pickAuthority`-th
   * authority the brief allows for it, so that the closure and balance guards, not the table, decide.
   * Both leave `banned` to 'any' and to the rare `ban`, or nearly every run would end in a ban
   * after a few steps.
   */
  targeting: 'any' | 'edge' | 'allowed';
  target: AccountState;
  pick: number;
  /** With 'edge' or 'allowed': aim at `banned` instead (admin, for 'allowed'). */
  ban: boolean;
  /** Independent of `pick`, or a target's index would fix the authority chosen for it. */
  pickAuthority: number;
  authority: Authority;
  reasonCode: string;
  clock: ClockStep;
  balancesZero: boolean;
}

const clockArb: fc.Arbitrary<ClockStep> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<ClockStep>({ kind: 'advance', ms: 0 }) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 2 * DAY }).map((ms): ClockStep => ({ kind: 'advance', ms })) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 45 * DAY }).map((ms): ClockStep => ({ kind: 'advance', ms })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(COOLING_OFF - 1, COOLING_OFF, COOLING_OFF + 1).map((ms): ClockStep => ({ kind: 'advance', ms })),
  },
  { weight: 3, arbitrary: fc.constantFrom(-1, 0, 1).map((offsetMs): ClockStep => ({ kind: 'windowEdge', offsetMs: offsetMs as -1 | 0 | 1 })) },
);

const reasonCodeArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(CLOSURE_REQUESTED) },
  { weight: 6, arbitrary: fc.constantFrom('signup', 'kyc_decision', 'sanctions_hit', 'dormancy', 'recon_freeze', 'restore', 'fraud') },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

const commandArb: fc.Arbitrary<Command> = fc.record({
  targeting: fc.oneof(
    { weight: 1, arbitrary: fc.constant<Command['targeting']>('any') },
    { weight: 2, arbitrary: fc.constant<Command['targeting']>('edge') },
    { weight: 4, arbitrary: fc.constant<Command['targeting']>('allowed') },
  ),
  target: fc.constantFrom(...allStates),
  pick: fc.nat({ max: 7 }),
  ban: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 30, arbitrary: fc.constant(false) }),
  pickAuthority: fc.nat({ max: 5 }),
  authority: fc.constantFrom(...allAuthorities),
  reasonCode: reasonCodeArb,
  clock: clockArb,
  // Mostly zero, so closures get through often enough to reach the terminal state.
  balancesZero: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
});

// size 'max': lengths spread over the whole 1..60 range, not fast-check's small default.
const sequenceArb = fc.array(commandArb, { minLength: 1, maxLength: 60, size: 'max' });

const keyOf = (snapshot: AccountSnapshot | null): FromKey => (snapshot === null ? 'new' : snapshot.state);

/** The independent model: when does a closure start, and which rules does a command break? */
interface ModelState {
  state: AccountState | null;
  /** When the pending closure was requested; only while restricted. */
  closureAtMs: number | null;
}

function modelViolations(model: ModelState, target: AccountState, authority: Authority, nowMs: number, balancesZero: boolean): ForbiddenReason[] {
  const verdict = expectedVerdict(model.state ?? 'new', target, authority);
  if (verdict !== 'ALLOWED') return [verdict];
  const violations: ForbiddenReason[] = [];
  const selfCancel = model.state === 'restricted' && target === 'active' && authority === 'self';
  const systemClose = model.state === 'restricted' && target === 'closed' && authority === 'system';
  if (selfCancel || systemClose) {
    if (model.closureAtMs === null) violations.push('NO_PENDING_CLOSURE');
    else {
      const windowOver = nowMs >= model.closureAtMs + COOLING_OFF;
      if (selfCancel && windowOver) violations.push('COOLING_OFF_ELAPSED');
      if (systemClose && !windowOver) violations.push('COOLING_OFF_NOT_ELAPSED');
    }
  }
  if (target === 'closed' && !balancesZero) violations.push('BALANCES_NOT_ZERO');
  return violations;
}

function modelAfter(target: AccountState, authority: Authority, reasonCode: string, nowMs: number): ModelState {
  // A holder restricts their own account only to leave; staff and automation do so for many reasons.
  const closing = target === 'restricted' && (authority === 'self' || reasonCode === CLOSURE_REQUESTED);
  return { state: target, closureAtMs: closing ? nowMs : null };
}

/** Tallies over every run, to show the generator reaches the interesting corners. */
interface Tally {
  accepted: number;
  rejected: number;
  reasons: Map<ForbiddenReason, number>;
  /** Accepted count per `from>to:authority`. */
  acceptedEdges: Map<string, number>;
  systemCloses: number;
  selfCancels: number;
  terminalRuns: number;
  longestAccepted: number;
}

const newTally = (): Tally => ({
  accepted: 0,
  rejected: 0,
  reasons: new Map(),
  acceptedEdges: new Map(),
  systemCloses: 0,
  selfCancels: 0,
  terminalRuns: 0,
  longestAccepted: 0,
});

/**
 * The per-step checks run some 15 000 times per test; vitest's `expect` costs ~10 µs a call,
 * which alone would take seconds, so the hot loop throws plain errors and fast-check reports
 * the shrunk counterexample.
 */
function must(condition: boolean, what: () => string): asserts condition {
  if (!condition) throw new Error(what());
}

interface FoldOutcome {
  final: AccountSnapshot | null;
  records: TransitionRecord[];
}

/** Folds one sequence, asserting the per-step properties (a), (b), (d), (e) and the model agreement. */
function foldAndCheck(commands: readonly Command[], tally: Tally): FoldOutcome {
  let snapshot: AccountSnapshot | null = null;
  let model: ModelState = { state: null, closureAtMs: null };
  let nowMs = T0;
  const records: TransitionRecord[] = [];
  let terminalReached = false;

  commands.forEach((command, step) => {
    if (command.clock.kind === 'advance') nowMs += command.clock.ms;
    else if (snapshot?.closureRequestedAt != null) {
      nowMs = Math.max(nowMs, snapshot.closureRequestedAt + COOLING_OFF + command.clock.offsetMs);
    }

    let { target, authority } = command;
    if (command.targeting !== 'any') {
      const row = expectedEdges[keyOf(snapshot)];
      const targets = (Object.keys(row) as AccountState[]).filter((s) => s !== 'banned');
      if (command.ban) target = 'banned';
      else if (targets.length > 0) target = targets[command.pick % targets.length] ?? target;
      const who = row[target] ?? [];
      if (command.targeting === 'allowed' && who.length > 0) authority = who[command.pickAuthority % who.length] ?? authority;
    }
    const { reasonCode, balancesZero } = command;
    const fromKey = keyOf(snapshot);
    const at = (): string =>
      `step ${step}: ${fromKey} -> ${target} by ${authority} (reason ${JSON.stringify(reasonCode)}, balancesZero ${balancesZero}, ` +
      `t+${nowMs - T0} ms, snapshot ${JSON.stringify(snapshot)})`;

    const before = structuredClone(snapshot);
    // Frozen, so an FSM that wrote to its input would throw here rather than pass by luck.
    const input = snapshot === null ? null : Object.freeze({ ...snapshot });
    const result = decideTransition(input, { target, authority, reasonCode, nowMs, balancesZero, coolingOffMs: COOLING_OFF });
    const violations = modelViolations(model, target, authority, nowMs, balancesZero);

    if (result.ok) {
      // (a) every accepted step is an edge of the brief's table for its authority.
      must(expectedVerdict(fromKey, target, authority) === 'ALLOWED', () => `(a) accepted a non-edge: ${at()}`);
      must(result.from === (snapshot?.state ?? null) && result.to === target && result.next.state === target, () => `(a) result names another move ${JSON.stringify(result)}: ${at()}`);
      // (d) nothing leaves closed or banned.
      must(!terminalReached, () => `(d) accepted after a terminal state: ${at()}`);
      // (e) closing never strands funds.
      must(target !== 'closed' || balancesZero, () => `(e) closed with balances: ${at()}`);
      // The FSM accepts exactly what the independent model accepts, and agrees on the pending closure.
      must(violations.length === 0, () => `accepted although the model sees ${violations.join(', ')}: ${at()}`);
      model = modelAfter(target, authority, reasonCode, nowMs);
      must(result.next.closureRequestedAt === model.closureAtMs, () => `closureRequestedAt ${result.next.closureRequestedAt}, model ${model.closureAtMs}: ${at()}`);

      records.push({ from: result.from, to: result.to, authority, reasonCode, atMs: nowMs });
      snapshot = result.next;
      tally.accepted += 1;
      const edgeKey = `${fromKey}>${target}:${authority}`;
      tally.acceptedEdges.set(edgeKey, (tally.acceptedEdges.get(edgeKey) ?? 0) + 1);
      if (fromKey === 'restricted' && target === 'closed' && authority === 'system') tally.systemCloses += 1;
      if (fromKey === 'restricted' && target === 'active' && authority === 'self') tally.selfCancels += 1;
      if (target === 'closed' || target === 'banned') terminalReached = true;
    } else {
      const { error } = result;
      // (b) a rejection changes nothing and names its reason.
      must(isDeepStrictEqual(snapshot, before), () => `(b) rejection changed the snapshot to ${JSON.stringify(snapshot)}: ${at()}`);
      must(error.code === 'FORBIDDEN_TRANSITION', () => `(b) error code ${error.code}: ${at()}`);
      must(forbiddenReasons.includes(error.reason), () => `(b) unknown reason ${String(error.reason)}: ${at()}`);
      must(error.from === (snapshot?.state ?? null) && error.to === target && error.authority === authority, () => `(b) error names another move ${JSON.stringify(error)}: ${at()}`);
      must(error.message.length > 0, () => `(b) empty message: ${at()}`);
      // The reason is a rule the model also sees broken (the FSM reports the most structural one).
      must(violations.includes(error.reason), () => `rejected for ${error.reason}, model sees [${violations.join(', ')}]: ${at()}`);
      // (d) from a terminal state the only answer is "no such edge".
      must(!terminalReached || error.reason === 'NO_SUCH_EDGE', () => `(d) terminal state answered ${error.reason}: ${at()}`);
      // BALANCES_NOT_ZERO is only ever about a closure with funds left.
      must(error.reason !== 'BALANCES_NOT_ZERO' || (target === 'closed' && !balancesZero), () => `spurious BALANCES_NOT_ZERO: ${at()}`);
      tally.rejected += 1;
      tally.reasons.set(error.reason, (tally.reasons.get(error.reason) ?? 0) + 1);
    }
  });

  if (terminalReached) tally.terminalRuns += 1;
  tally.longestAccepted = Math.max(tally.longestAccepted, records.length);
  return { final: snapshot, records };
}

describe('account FSM: random command sequences from no account', () => {
  it('accepts only brief edges, rejects without change, replays exactly, stays terminal, never closes with funds', () => {
    const tally = newTally();
    fc.assert(
      fc.property(sequenceArb, (commands) => {
        const { final, records } = foldAndCheck(commands, tally);
        const recordsBefore = structuredClone(records);
        // (c) the accepted audit-like records alone rebuild the final snapshot, exactly.
        expect(replayTransitions(records)).toStrictEqual(final);
        expect(records).toStrictEqual(recordsBefore);
      }),
      { numRuns: 1000 },
    );

    if (process.env.FSM_PROPERTY_STATS) console.log({ ...tally, reasons: Object.fromEntries(tally.reasons), acceptedEdges: tally.acceptedEdges.size, rarestEdge: Math.min(...tally.acceptedEdges.values()) });
    // The generator must reach the guarded corners, or the properties above prove little.
    expect(tally.accepted).toBeGreaterThan(1500);
    expect(tally.rejected).toBeGreaterThan(1500);
    for (const reason of forbiddenReasons) expect(tally.reasons.get(reason) ?? 0, reason).toBeGreaterThan(0);
    // Every (from, to, authority) the brief allows was taken at least once: 30 of them.
    expect(tally.acceptedEdges.size).toBe(30);
    expect(tally.systemCloses).toBeGreaterThan(0);
    expect(tally.selfCancels).toBeGreaterThan(0);
    expect(tally.terminalRuns).toBeGreaterThan(50);
    expect(tally.longestAccepted).toBeGreaterThan(10);
  });

  it('every prefix of the accepted records replays to the snapshot the fold had at that point', () => {
    fc.assert(
      fc.property(sequenceArb, (commands) => {
        const { records } = foldAndCheck(commands, newTally());
        // Re-decide the records one by one (they were all accepted, so they must be again) and compare.
        let live: AccountSnapshot | null = null;
        records.forEach((r, i) => {
          const result = decideTransition(live, {
            target: r.to,
            authority: r.authority,
            reasonCode: r.reasonCode,
            nowMs: r.atMs,
            balancesZero: true,
            coolingOffMs: COOLING_OFF,
          });
          must(result.ok, () => `record ${i} no longer accepted: ${JSON.stringify(result)}`);
          live = result.next;
          const replayed = replayTransitions(records.slice(0, i + 1));
          must(isDeepStrictEqual(replayed, live), () => `prefix ${i + 1} replays to ${JSON.stringify(replayed)}, live ${JSON.stringify(live)}`);
        });
      }),
      { numRuns: 200 },
    );
  });
});

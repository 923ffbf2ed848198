import { errors as natsErrors } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/supervisor/circuit-breaker.js';
import { Supervisor, type SupervisorLimits } from '../../src/supervisor/supervisor.js';
import { delivery, type Recorder } from './delivery-recorder.js';
import { capturingLogger } from '../support/log.js';
import { until } from '../support/until.js';

const limits: SupervisorLimits = {
  liveActorsMax: 100, mailboxDepthMax: 10, idleMs: 60_000, attemptsMax: 2, transientOwnAttemptsMax: 4, backoffInitialMs: 1, backoffMaxMs: 20, restartsMax: 1_000, restartWindowMs: 60_000,
};


function breakerOf(log: ReturnType<typeof capturingLogger>['log']): CircuitBreaker {
  return new CircuitBreaker({ name: 't', failuresToOpen: 5, backoffInitialMs: 20, backoffMaxMs: 40, log });
}

/** Failures that look like a dependency away, but that this one message meets every time. */
const ownFailures = [
  { name: 'a NATS request that always times out', dependency: 'nats', fail: (): Error => new natsErrors.TimeoutError() },
  {
    name: 'a Postgres connection always terminated (57P01)',
    dependency: 'postgres',
    fail: (): Error => Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
  },
] as const;

describe('Supervisor: a transient failure only one message meets', () => {
  it.each(ownFailures)('parks the message after its attempts when others succeed meanwhile: $name', async ({ dependency, fail }) => {
    const { log, lines } = capturingLogger('warn');
    const breaker = breakerOf(log);
    const rec: Recorder = { settled: [], parked: [] };
    const expectedError = fail().message;
    const sup = new Supervisor<string, string>({
      name: 't', limits, log, breaker, onEscalate: () => undefined,
      spawn: (key) => ({
        async handle(message) {
          if (key === 'poison') throw fail();
          return message;
        },
      }),
    });
    await sup.dispatch(delivery(rec, 'poison', 'p1'));
    await sup.dispatch(delivery(rec, 'poison', 'p2'));
    // Other accounts keep trading while the poison retries: the dependency is demonstrably up.
    let othersSent = 0;
    let trading = true;
    const traffic = (async () => {
      for (; trading; othersSent++) {
        await sup.dispatch(delivery(rec, ['a', 'b', 'c'][othersSent % 3] ?? 'a', `m${othersSent}`));
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    try {
      await until('both poison messages parked', () => rec.parked.length === 2, 5_000, 5);
    } finally {
      trading = false;
      await traffic;
    }
    const others = (): typeof rec.settled => rec.settled.filter((s) => s.key !== 'poison');
    await until('every other message settled', () => others().length === othersSent, 5_000, 5);

    // Parked after its transient-own attempts (more than a fault's) with its last error; the account's next message went on (and met the same).
    expect(rec.parked).toEqual([
      { key: 'poison', message: 'p1', error: expectedError, attempts: limits.transientOwnAttemptsMax },
      { key: 'poison', message: 'p2', error: expectedError, attempts: limits.transientOwnAttemptsMax },
    ]);
    expect(othersSent).toBeGreaterThan(0);
    expect(others().every((s) => s.settlement.kind === 'done')).toBe(true);
    // A failure of its own is counted in the message's attempts, not in the restart budget.
    expect(sup.stats()).toMatchObject({ restarts: 0, parked: 2, escalated: false });
    expect(breaker.state).toBe('closed');
    const judged = lines.filter((l) => l.event === 'actor.transient_own');
    expect(judged.length).toBeGreaterThanOrEqual(2 * limits.transientOwnAttemptsMax);
    expect(judged[0]).toMatchObject({ level: 40, key: 'poison', dependency, err: expectedError });
    sup.stop();
    breaker.dispose();
  });

  it.each(ownFailures)('parks the message when nothing else runs but the dependency answers a probe: $name', async ({ dependency, fail }) => {
    const { log, lines } = capturingLogger('warn');
    const breaker = breakerOf(log);
    const rec: Recorder = { settled: [], parked: [] };
    const expectedError = fail().message;
    const probed: string[] = [];
    const sup = new Supervisor<string, string>({
      name: 't', limits, log, breaker, onEscalate: () => undefined,
      probe: async (asked) => {
        probed.push(asked);
        return true;
      },
      spawn: () => ({
        async handle() {
          throw fail();
        },
      }),
    });
    // No other traffic: without the probe nothing shows the dependency is up, and the breaker opens (5 failures here).
    await sup.dispatch(delivery(rec, 'poison', 'p1'));
    await until('the poison message parked', () => rec.parked.length === 1, 5_000, 5);

    expect(rec.parked).toEqual([{ key: 'poison', message: 'p1', error: expectedError, attempts: limits.transientOwnAttemptsMax }]);
    // Its failures were its own, not the dependency's: the breaker never opened, the intake never paused.
    expect(breaker.state).toBe('closed');
    expect(breaker.status().opens).toBe(0);
    // Asked after every failure but the first (an outage's start is never judged).
    expect(probed).toEqual(Array.from({ length: limits.transientOwnAttemptsMax }, () => dependency));
    const judged = lines.filter((l) => l.event === 'actor.transient_own');
    expect(judged).toHaveLength(limits.transientOwnAttemptsMax);
    expect(judged[0]).toMatchObject({ level: 40, key: 'poison', dependency, evidence: 'probe', succeededElsewhere: 0, err: expectedError });
    expect(sup.stats()).toMatchObject({ restarts: 0, parked: 1, escalated: false });
    sup.stop();
    breaker.dispose();
  });

  it('retries without judging while the dependency does not answer its probe either, and finishes once it is back', async () => {
    const { log, lines } = capturingLogger('warn');
    const breaker = breakerOf(log);
    const rec: Recorder = { settled: [], parked: [] };
    let down = true;
    let failures = 0;
    let probes = 0;
    const sup = new Supervisor<string, string>({
      name: 't', limits, log, breaker, onEscalate: () => undefined,
      probe: async () => {
        probes++;
        return !down;
      },
      spawn: () => ({
        async handle(message) {
          if (down) {
            failures++;
            throw new natsErrors.TimeoutError();
          }
          return message;
        },
      }),
    });
    await sup.dispatch(delivery(rec, 'alone', 'a1'));
    // More failures than its transient-own attempts: an outage, so none of them counts.
    await until('the outage felt', () => failures > limits.transientOwnAttemptsMax + 2, 10_000, 5);
    down = false;
    await until('the message settled', () => rec.settled.length === 1, 10_000, 5);

    expect(rec.settled[0]?.settlement.kind).toBe('done');
    expect(rec.parked).toEqual([]);
    expect(probes).toBeGreaterThan(0);
    expect(lines.filter((l) => l.event === 'actor.transient_own')).toEqual([]);
    // The dependency was away: the breaker was told and opened, as before.
    expect(breaker.status().opens).toBeGreaterThan(0);
    sup.stop();
    breaker.dispose();
  });

  it('does not judge a failed probe its own when a success came in while the breaker was open', async () => {
    const { log, lines } = capturingLogger('warn');
    const breaker = new CircuitBreaker({ name: 't', failuresToOpen: 3, backoffInitialMs: 20, backoffMaxMs: 40, log });
    const rec: Recorder = { settled: [], parked: [] };
    let down = true;
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const sup = new Supervisor<string, string>({
      name: 't', limits: { ...limits, attemptsMax: 2, transientOwnAttemptsMax: 2 }, log, breaker, onEscalate: () => undefined,
      spawn: (key) => ({
        async handle(message) {
          if (key === 'slow') await released;
          else if (down) throw new natsErrors.TimeoutError();
          return message;
        },
      }),
    });
    // Admitted while the breaker was closed; it succeeds late, while the breaker is open.
    await sup.dispatch(delivery(rec, 'slow', 's'));
    for (const key of ['a', 'b', 'c']) await sup.dispatch(delivery(rec, key, key));
    await until('the breaker open', () => breaker.state === 'open', 5_000, 5);
    release();
    await until('the late success', () => rec.settled.length === 1, 5_000, 5);
    await until('probes failed after it', () => breaker.status().opens >= 3, 5_000, 5);
    down = false;
    await until('every message settled', () => rec.settled.length === 4, 5_000, 5);

    expect(rec.parked).toEqual([]);
    expect(lines.filter((l) => l.event === 'actor.transient_own')).toEqual([]);
    sup.stop();
    breaker.dispose();
  });

  it.each([{ withBreaker: true }, { withBreaker: false }])('parks nothing when every message fails transiently for a while, then all recover (breaker: $withBreaker)', async ({ withBreaker }) => {
    const { log, lines } = capturingLogger('warn');
    const breaker = withBreaker ? breakerOf(log) : undefined;
    const rec: Recorder = { settled: [], parked: [] };
    let down = true;
    const failures = new Map<string, number>();
    const sup = new Supervisor<string, string>({
      name: 't', limits, log, breaker, onEscalate: () => undefined,
      spawn: (key) => ({
        async handle(message) {
          if (down) {
            failures.set(key, (failures.get(key) ?? 0) + 1);
            throw new natsErrors.TimeoutError();
          }
          return message;
        },
      }),
    });
    const keys = ['a', 'b', 'c', 'd', 'e'];
    for (const key of keys) for (const n of [1, 2, 3]) await sup.dispatch(delivery(rec, key, `${key}${n}`));
    // Long enough for every key (or, with the breaker, the probes) to fail more often than attemptsMax.
    const failuresWanted = withBreaker ? limits.attemptsMax + 2 : keys.length * (limits.attemptsMax + 2);
    await until('the outage felt', () => [...failures.values()].reduce((a, b) => a + b, 0) >= failuresWanted, 5_000, 5);
    if (!withBreaker) expect(keys.every((key) => (failures.get(key) ?? 0) > limits.attemptsMax)).toBe(true);
    down = false;
    await until('every message settled', () => rec.settled.length === keys.length * 3, 5_000, 5);

    expect(rec.parked).toEqual([]);
    expect(rec.settled.every((s) => s.settlement.kind === 'done')).toBe(true);
    expect(lines.filter((l) => l.event === 'actor.transient_own')).toEqual([]);
    expect(sup.stats()).toMatchObject({ restarts: 0, parked: 0, escalated: false });
    sup.stop();
    breaker?.dispose();
  });
});


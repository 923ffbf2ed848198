import { errors as natsErrors } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/supervisor/circuit-breaker.js';
import { Supervisor, type Delivery, type Settlement, type SupervisorLimits } from '../../src/supervisor/supervisor.js';
import { capturingLogger, silentLogger } from '../support/log.js';
import { until } from '../support/until.js';

describe('CircuitBreaker', () => {
  it('opens after N transient failures in a row, half-opens after its backoff, admits one probe, closes on its success', async () => {
    const { log, lines } = capturingLogger('info');
    const breaker = new CircuitBreaker({ name: 't', failuresToOpen: 3, backoffInitialMs: 20, backoffMaxMs: 80, log });
    breaker.failedTransiently('nats');
    breaker.failedTransiently('nats');
    breaker.succeeded(); // a success between them starts the count again
    breaker.failedTransiently('nats');
    breaker.failedTransiently('nats');
    expect(breaker.state).toBe('closed');
    expect(breaker.tryAdmit()).toBe(true);
    breaker.failedTransiently('postgres');
    expect(breaker.status()).toEqual({ state: 'open', dependency: 'postgres', opens: 1 });
    expect(breaker.tryAdmit()).toBe(false);
    breaker.succeeded(); // a late success of an attempt admitted earlier does not close it
    expect(breaker.state).toBe('open');

    await breaker.changed();
    expect(breaker.state).toBe('half_open');
    expect(breaker.tryAdmit()).toBe(true);
    expect(breaker.tryAdmit()).toBe(false); // one probe at a time
    breaker.faulted(); // the probe hit a bug, not the dependency: another may probe
    expect(breaker.tryAdmit()).toBe(true);
    breaker.failedTransiently('postgres'); // the probe failed: open again, longer
    expect(breaker.state).toBe('open');
    await breaker.changed();
    expect(breaker.tryAdmit()).toBe(true);
    breaker.succeeded();
    expect(breaker.status()).toEqual({ state: 'closed', dependency: null, opens: 2 });
    expect(breaker.tryAdmit()).toBe(true);

    const transitions = lines.filter((l) => String(l.event).startsWith('intake.breaker_'));
    expect(transitions.map((l) => l.event)).toEqual([
      'intake.breaker_open', 'intake.breaker_half_open', 'intake.breaker_open', 'intake.breaker_half_open', 'intake.breaker_closed',
    ]);
    expect(transitions[0]).toMatchObject({ dependency: 'postgres', consecutiveFailures: 3 });
    expect(transitions[2]).toMatchObject({ dependency: 'postgres', probe: 'failed' });
    // Jittered doubling: the first wait is 10–30 ms, the second 20–60 ms.
    expect(Number(transitions[0]?.retryInMs)).toBeLessThanOrEqual(30);
    expect(Number(transitions[2]?.retryInMs)).toBeGreaterThanOrEqual(20);
    breaker.dispose();
  });
});

const limits: SupervisorLimits = {
  liveActorsMax: 100, mailboxDepthMax: 10, idleMs: 60_000, attemptsMax: 2, transientOwnAttemptsMax: 2, backoffInitialMs: 1, backoffMaxMs: 5, restartsMax: 2, restartWindowMs: 60_000,
};

function delivery(settled: Array<Settlement<string>>, key: string, message: string): Delivery<string, string> {
  return { key, message, settle: (s) => void settled.push(s), park: async () => undefined };
}

describe('Supervisor with transient failures', () => {
  it('does not count them in the restart budget nor in the attempts, and replaces the incarnation', async () => {
    const settled: Array<Settlement<string>> = [];
    const reasons: string[] = [];
    let incarnations = 0;
    let timeoutsLeft = 10;
    const sup = new Supervisor<string, string>({
      name: 't', limits, log: silentLogger(), onEscalate: (reason) => reasons.push(reason),
      spawn: () => {
        const incarnation = ++incarnations;
        return {
          async handle(message) {
            if (timeoutsLeft-- > 0) throw new natsErrors.TimeoutError();
            return `${message}@${incarnation}`;
          },
        };
      },
    });
    await sup.dispatch(delivery(settled, 'k', 'm'));
    await until('the message settled', () => settled.length === 1, 5_000, 5);
    expect(settled[0]).toEqual({ kind: 'done', result: 'm@11' });
    expect(reasons).toEqual([]);
    expect(sup.stats()).toMatchObject({ restarts: 0, transientRetries: 10, parked: 0, escalated: false });
    sup.stop();
  });

  it('holds every attempt while the breaker is open and lets them all go once a probe succeeds', async () => {
    const breaker = new CircuitBreaker({ name: 't', failuresToOpen: 3, backoffInitialMs: 30, backoffMaxMs: 30, log: silentLogger() });
    const settled: Array<Settlement<string>> = [];
    let down = true;
    let calls = 0;
    let callsWhileOpen = 0;
    const sup = new Supervisor<string, string>({
      name: 't', limits: { ...limits, backoffMaxMs: 50 }, log: silentLogger(), onEscalate: () => undefined, breaker,
      spawn: () => ({
        async handle(message) {
          calls++;
          if (breaker.state === 'open') callsWhileOpen++;
          if (down) throw new natsErrors.TimeoutError();
          return message;
        },
      }),
    });
    for (const key of ['a', 'b', 'c', 'd', 'e']) await sup.dispatch(delivery(settled, key, key));
    await until('the breaker open', () => breaker.state === 'open', 5_000, 5);
    const callsAtOpen = calls;
    await new Promise((r) => setTimeout(r, 200));
    // Only probes went (one at a time) while the dependency stayed down: far fewer than five actors retrying freely.
    expect(calls - callsAtOpen).toBeLessThan(12);
    down = false;
    await until('every message settled', () => settled.length === 5, 5_000, 5);
    expect(breaker.state).toBe('closed');
    expect(callsWhileOpen).toBe(0);
    expect(sup.stats()).toMatchObject({ restarts: 0, escalated: false });
    sup.stop();
    breaker.dispose();
  });
});

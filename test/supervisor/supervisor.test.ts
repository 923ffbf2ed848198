import { describe, expect, it } from 'vitest';
import { Supervisor, type SupervisorLimits } from '../../src/supervisor/supervisor.js';
import { delivery, type Recorder } from './delivery-recorder.js';
import { silentLogger } from '../support/log.js';

const limits: SupervisorLimits = {
  liveActorsMax: 100,
  mailboxDepthMax: 10,
  idleMs: 60_000,
  attemptsMax: 3, transientOwnAttemptsMax: 3,
  backoffInitialMs: 1,
  backoffMaxMs: 5,
  restartsMax: 1_000,
  restartWindowMs: 60_000,
};


async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('Supervisor', () => {
  it('keeps each key in order while keys run in parallel', async () => {
    const rec: Recorder = { settled: [], parked: [] };
    const seen = new Map<string, string[]>();
    const sup = new Supervisor<string, string>({
      name: 't', limits, log: silentLogger(), onEscalate: () => undefined,
      spawn: (key) => ({
        async handle(message) {
          await new Promise((r) => setTimeout(r, Math.random() * 3));
          seen.set(key, [...(seen.get(key) ?? []), message]);
          return message;
        },
      }),
    });
    for (let i = 0; i < 20; i++) for (const key of ['a', 'b', 'c']) await sup.dispatch(delivery(rec, key, `${key}${i}`));
    await until(() => rec.settled.length === 60);
    for (const key of ['a', 'b', 'c']) expect(seen.get(key)).toEqual(Array.from({ length: 20 }, (_, i) => `${key}${i}`));
    sup.stop();
  });

  it('restarts a failing actor with a fresh incarnation and retries the same message', async () => {
    const rec: Recorder = { settled: [], parked: [] };
    let incarnations = 0;
    let failuresLeft = 2;
    const sup = new Supervisor<string, string>({
      name: 't', limits, log: silentLogger(), onEscalate: () => undefined,
      spawn: () => {
        const incarnation = ++incarnations;
        return {
          async handle(message) {
            if (failuresLeft-- > 0) throw new Error('transient');
            return `${message}@${incarnation}`;
          },
        };
      },
    });
    await sup.dispatch(delivery(rec, 'k', 'm'));
    await until(() => rec.settled.length === 1);
    expect(rec.settled[0]?.settlement).toEqual({ kind: 'done', result: 'm@3' });
    expect(sup.stats()).toMatchObject({ restarts: 2, parked: 0 });
    sup.stop();
  });

  it('parks a message that keeps failing, then goes on with the next one', async () => {
    const rec: Recorder = { settled: [], parked: [] };
    const sup = new Supervisor<string, string>({
      name: 't', limits, log: silentLogger(), onEscalate: () => undefined,
      spawn: () => ({
        async handle(message) {
          if (message === 'poison') throw new Error('cannot handle poison');
          return message;
        },
      }),
    });
    await sup.dispatch(delivery(rec, 'k', 'poison'));
    await sup.dispatch(delivery(rec, 'k', 'fine'));
    await until(() => rec.settled.length === 2);
    expect(rec.parked).toEqual([{ key: 'k', message: 'poison', error: 'cannot handle poison', attempts: 3 }]);
    expect(rec.settled.map((s) => s.settlement.kind)).toEqual(['parked', 'done']);
    sup.stop();
  });

  it('escalates and stops when the restart budget is spent, leaving the message unsettled', async () => {
    const rec: Recorder = { settled: [], parked: [] };
    const reasons: string[] = [];
    const sup = new Supervisor<string, string>({
      name: 't', limits: { ...limits, attemptsMax: 100, restartsMax: 4 }, log: silentLogger(),
      onEscalate: (reason) => reasons.push(reason),
      spawn: () => ({ handle: async () => { throw new Error('database down'); } }),
    });
    await sup.dispatch(delivery(rec, 'k', 'm'));
    await until(() => reasons.length === 1);
    expect(reasons[0]).toMatch(/5 restarts/);
    expect(sup.stats().escalated).toBe(true);
    await new Promise((r) => setTimeout(r, 30));
    expect(rec.settled).toEqual([]);
    await expect(sup.dispatch(delivery(rec, 'k', 'later'))).rejects.toThrow(/stopped/);
  });

  it('caps live actors by passivating the least recently used idle one', async () => {
    const rec: Recorder = { settled: [], parked: [] };
    const spawned: string[] = [];
    const sup = new Supervisor<string, string>({
      name: 't', limits: { ...limits, liveActorsMax: 2 }, log: silentLogger(), onEscalate: () => undefined,
      spawn: (key) => {
        spawned.push(key);
        return { handle: async (m) => m };
      },
    });
    for (const key of ['a', 'b', 'c', 'a']) {
      await sup.dispatch(delivery(rec, key, key));
      await until(() => rec.settled.length === spawned.length);
    }
    expect(sup.stats().liveActors).toBeLessThanOrEqual(2);
    // 'a' was evicted to make room for 'c', so it was spawned again.
    expect(spawned).toEqual(['a', 'b', 'c', 'a']);
    sup.stop();
  });

  it('passivates actors idle longer than idleMs', async () => {
    const rec: Recorder = { settled: [], parked: [] };
    const sup = new Supervisor<string, string>({
      name: 't', limits: { ...limits, idleMs: 40 }, log: silentLogger(), onEscalate: () => undefined,
      spawn: () => ({ handle: async (m) => m }),
    });
    await sup.dispatch(delivery(rec, 'a', 'x'));
    await until(() => rec.settled.length === 1);
    expect(sup.stats().liveActors).toBe(1);
    await until(() => sup.stats().liveActors === 0, 2_000);
    expect(sup.stats().passivated).toBe(1);
    sup.stop();
  });

  it('bounds each mailbox: dispatch waits while it is full', async () => {
    const rec: Recorder = { settled: [], parked: [] };
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const sup = new Supervisor<string, string>({
      name: 't', limits: { ...limits, mailboxDepthMax: 2 }, log: silentLogger(), onEscalate: () => undefined,
      spawn: () => ({ handle: async (m) => { await gate; return m; } }),
    });
    await sup.dispatch(delivery(rec, 'k', '1'));
    await sup.dispatch(delivery(rec, 'k', '2'));
    let thirdAdmitted = false;
    const third = sup.dispatch(delivery(rec, 'k', '3')).then(() => (thirdAdmitted = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(thirdAdmitted).toBe(false);
    release();
    await third;
    await until(() => rec.settled.length === 3);
    expect(rec.settled.map((s) => s.message)).toEqual(['1', '2', '3']);
    sup.stop();
  });
});

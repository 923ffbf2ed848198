import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExchangeSimulator, type ExchangeSimulator } from '../../../src/adapters/exchange-simulator/index.js';
import { silentLogger } from '../../support/log.js';
import { engineMinusLedger, readBalanceEvents, sleep, startSimulatorHarness, type SimulatorHarness } from './harness.js';

/** A simulator restarted on the same stream and database continues the seq and starts from the ledger's balances. */
let h: SimulatorHarness;
let second: ExchangeSimulator | undefined;

beforeAll(async () => {
  h = await startSimulatorHarness({ seed: 5, rateEventsPerSec: 300, users: 5, currencies: ['BTC', 'USDT'] });
  await sleep(600);
  await h.sim.stop();
});
afterAll(async () => {
  await second?.stop();
  await h?.close();
});

describe('exchange simulator restart', () => {
  it('keeps seq strictly increasing across the restart and its books equal to the ledger', async () => {
    const firstLastSeq = h.sim.lastSeq();
    // Started at rate 0: the books are compared before it generates anything (under load, a
    // running simulator has journals in flight that the ledger does not show yet).
    second = await startExchangeSimulator({
      nc: h.nc, pool: h.pool, names: h.names, seed: 6, rateEventsPerSec: 0, users: 5, currencies: ['BTC', 'USDT'], log: silentLogger(),
    });
    expect(second.lastSeq()).toBe(firstLastSeq);
    expect(await engineMinusLedger(second, h.pool)).toEqual([]);
    second.setRate(300);
    await sleep(400);
    await second.pause();
    expect(second.lastSeq()).toBeGreaterThan(firstLastSeq);
    expect(await engineMinusLedger(second, h.pool)).toEqual([]);
    const { events, violations } = await readBalanceEvents(h.nc, h.names);
    expect(violations).toEqual([]);
    expect(events.every((e, i) => i === 0 || e.seq > (events[i - 1]?.seq ?? 0))).toBe(true);
    expect(events.at(-1)?.seq).toBe(second.lastSeq());
  });
});

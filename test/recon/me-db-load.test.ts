import type { Subscription } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExchangeSimulator, type ExchangeSimulator } from '../../src/adapters/exchange-simulator/index.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { silentLogger } from '../support/log.js';

const rateEventsPerSec = 2_000;
const runMs = Number(process.env.ME_DB_LOAD_MS ?? 60_000);
const ledgerLagMs = 2_000;

let t: TestEngine;
let sim: ExchangeSimulator;
let sub: Subscription;
const alerts: BreakAlert[] = [];

beforeAll(async () => {
  // The default grace window (5 s) against a ledger 2 s behind the engine.
  t = await startTestEngine({ RECON_GRACE_MS: '5000' });
  sub = t.client.subscribe(t.names.reconAlertSubject('me_db'), { callback: (_e, msg) => void alerts.push(msg.json<BreakAlert>()) });
  await t.client.flush();
});

afterAll(async () => {
  sub?.unsubscribe();
  await sim?.stop();
  await t?.close();
});

describe('me_db under load', () => {
  it(`no false alert at ${rateEventsPerSec} events/s for ${runMs / 1000} s with the ledger ${ledgerLagMs / 1000} s behind`, { timeout: runMs + 120_000 }, async () => {
    sim = await startExchangeSimulator({
      nc: t.client, pool: t.pool, names: t.names, seed: 2026, rateEventsPerSec, users: 500, currencies: ['BTC', 'ETH', 'USDT'],
      log: silentLogger(), faults: { ledgerDelayMs: ledgerLagMs },
    });
    await new Promise((r) => setTimeout(r, runMs));
    const stats = sim.stats();
    await sim.pause();
    const lastSeq = sim.lastSeq();

    // Let the reconciler finish what is in flight, then read its own account of the run.
    const deadline = Date.now() + 60_000;
    let status = (await t.admin('recon.status', {})) as { boundaries: Array<{ name: string; openBreaks: number; watermarks: { engineSeq: number }; counters: Record<string, number> }> };
    while (status.boundaries[0]?.watermarks.engineSeq !== lastSeq && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      status = (await t.admin('recon.status', {})) as typeof status;
    }
    const meDb = status.boundaries.find((b) => b.name === 'me_db');
    console.info(`load: ${stats.engineEventsApplied} engine events in ${Math.round(stats.runningMs)} ms = ${Math.round(stats.achievedEventsPerSec)} events/s; ` +
      `reconciler applied ${meDb?.counters.engineEventsApplied} events and ${meDb?.counters.ledgerRowsRead} ledger rows; alerts ${alerts.length}`);

    // Not a timing assertion (the bench measures speed): a guard that the run really was under load.
    expect(stats.engineEventsApplied).toBeGreaterThanOrEqual((rateEventsPerSec * runMs * 0.8) / 1000);
    expect(meDb?.watermarks.engineSeq).toBe(lastSeq);
    expect(alerts).toEqual([]);
    expect(meDb?.openBreaks).toBe(0);
  });
});

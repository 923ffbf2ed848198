import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { until } from '../support/until.js';

/**
 * A boundary switched off (here db_chain: no ETH_RPC_URL) may have left effects pending in the
 * outbox while it ran: an alert, a resolution. No reconciler of it runs to drain them, so the
 * leader does (ADR 0020, "Later").
 */
let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine();
  await until('the leader', () => t.engine.isLeader());
});
afterAll(async () => {
  await t?.close();
});

describe('outbox rows of a boundary that is not running', () => {
  it('are carried out by the leader and marked done', async () => {
    const status = (await t.admin('recon.status', {})) as { boundaries: Array<{ name: string; enabled: boolean }> };
    expect(status.boundaries.find((b) => b.name === 'db_chain')?.enabled).toBe(false);
    const alert = { breakId: '5f0c4c1e-0000-4000-8000-000000000001', boundary: 'db_chain', kind: 'total_staked', currency: 'STAKE', left: '1', right: '2', delta: '-1', firstSeenAt: new Date().toISOString() };
    await t.pool.query(
      `INSERT INTO recon_outbox (boundary, break_id, effect, subject, payload, msg_id) VALUES ('db_chain', NULL, 'publish', $1, $2, 'db_chain:left-behind:alert')`,
      [t.names.reconAlertSubject('db_chain'), JSON.stringify(alert)]);
    const jsm = await jetstreamManager(t.client);
    const published = await until('the left-behind alert on the recon stream', () =>
      jsm.streams.getMessage(t.names.reconStream, { last_by_subj: t.names.reconAlertSubject('db_chain') }).catch(() => null));
    expect(published.json()).toMatchObject({ breakId: alert.breakId, boundary: 'db_chain', delta: '-1' });
    await until('the row marked done', async () =>
      (await t.pool.query("SELECT 1 FROM recon_outbox WHERE msg_id = 'db_chain:left-behind:alert' AND done_at IS NOT NULL")).rowCount === 1);
  });
});

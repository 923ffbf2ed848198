import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFill } from '../../../src/adapters/matching-engine/fill-contract.js';
import { startTestEngine, type TestEngine } from '../../support/engine.js';
import { until } from '../../support/until.js';

let t: TestEngine;
beforeAll(async () => {
  t = await startTestEngine();
});
afterAll(async () => {
  await t?.close();
});

const fill = { seq: 7, fillId: 'T1:maker', userId: 'u1', market: 'BTC-USDT', side: 'sell', liquidity: 'maker', price: '60000.5', quantity: '0.25', fee: '15.000125', feeCurrency: 'USDT', ts: '2026-11-30T10:00:00.000Z' };

describe('fills: me.fill.<userId> (docs/contract.md)', () => {
  it('parses the contract at the edge and names what is wrong', () => {
    const ok = parseFill(JSON.stringify(fill));
    expect(ok.ok && [ok.event.base, ok.event.quote, ok.event.priceMinor, ok.event.tsMs]).toEqual(['BTC', 'USDT', 60000_500000000000000000n, Date.parse(fill.ts)]);
    const bad = (change: Record<string, unknown>) => {
      const r = parseFill({ ...fill, ...change });
      return r.ok ? 'ok' : r.reason;
    };
    expect(bad({ price: '6e4' })).toMatch(/price/);
    expect(bad({ price: '0' })).toMatch(/price: must be greater than 0/);
    expect(bad({ quantity: '-1' })).toMatch(/quantity/);
    expect(bad({ market: 'BTCUSDT' })).toMatch(/market/);
    expect(bad({ side: 'short' })).toMatch(/side/);
    expect(bad({ liquidity: 'both' })).toMatch(/liquidity/);
    expect(bad({ fee: 0.1 })).toMatch(/fee/);
    expect(parseFill('{').ok).toBe(false);
    const mismatch = parseFill(fill, { subjectUserId: 'u2' });
    expect(mismatch.ok ? null : mismatch.code).toBe('SUBJECT_MISMATCH');
  });

  it('stores each fill once by fillId, parks a malformed one with its reason', async () => {
    const js = jetstream(t.client);
    await js.publish(t.names.meFillSubject('u1'), JSON.stringify(fill), { msgID: 'a' });
    // The same fill again under another message id (an engine re-send after its own restart).
    await js.publish(t.names.meFillSubject('u1'), JSON.stringify(fill), { msgID: 'b' });
    await js.publish(t.names.meFillSubject('u2'), JSON.stringify({ ...fill, fillId: 'T1:taker', userId: 'u2', side: 'buy', liquidity: 'taker', fee: '0.0005', feeCurrency: 'BTC' }));
    await js.publish(t.names.meFillSubject('u3'), JSON.stringify({ ...fill, fillId: 'T2:maker', userId: 'u3', quantity: '1e-3' }));
    await js.publish(t.names.meFillSubject('u4'), JSON.stringify({ ...fill, fillId: 'T3:maker' })); // payload says u1
    const parked = await until('two parked fills', async () => {
      const r = await t.pool.query<{ subject: string; error: string }>('SELECT subject, error FROM parked_commands ORDER BY id');
      return r.rows.length === 2 ? r.rows : null;
    });
    expect(parked.map((p) => [p.subject, p.error])).toEqual([
      [t.names.meFillSubject('u3'), expect.stringMatching(/^INVALID_SHAPE: quantity/)],
      [t.names.meFillSubject('u4'), expect.stringMatching(/^SUBJECT_MISMATCH/)],
    ]);
    const rows = await t.pool.query('SELECT fill_id, user_id, market, side, liquidity, price::text, quantity::text, fee::text, fee_currency FROM fills ORDER BY fill_id');
    expect(rows.rows).toEqual([
      { fill_id: 'T1:maker', user_id: 'u1', market: 'BTC-USDT', side: 'sell', liquidity: 'maker', price: '60000.500000000000000000', quantity: '0.250000000000000000', fee: '15.000125000000000000', fee_currency: 'USDT' },
      { fill_id: 'T1:taker', user_id: 'u2', market: 'BTC-USDT', side: 'buy', liquidity: 'taker', price: '60000.500000000000000000', quantity: '0.250000000000000000', fee: '0.000500000000000000', fee_currency: 'BTC' },
    ]);
  });
});

import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { parseFill } from '../../adapters/matching-engine/fill-contract.js';
import { minorToDecimal } from '../../config/decimal.js';
import type { Pool } from '../../db/pool.js';
import { defaultDurableIntakeLimits, startDurableIntake } from '../../nats/durable-intake.js';
import type { NatsNames } from '../../nats/names.js';
import type { Logger } from '../../observability/logger.js';
import type { Fill } from './fill.js';
import { moneyScale } from './rounding.js';

const d = (m: bigint): string => minorToDecimal(m, moneyScale);

/** Stores a fill once: a repeated fillId changes nothing. Returns whether it was new. */
export async function storeFill(pool: Pool, fill: Fill): Promise<boolean> {
  const result = await pool.query(
    `INSERT INTO fills (fill_id, seq, user_id, market, base, quote, side, liquidity, price, quantity, fee, fee_currency, ts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (fill_id) DO NOTHING`,
    [fill.fillId, fill.seq, fill.userId, fill.market, fill.base, fill.quote, fill.side, fill.liquidity, d(fill.priceMinor), d(fill.quantityMinor), d(fill.feeMinor), fill.feeCurrency, new Date(fill.tsMs).toISOString()]);
  return (result.rowCount ?? 0) > 0;
}

/** The durable consumer of `me.fill.>`: parse at the edge, store once by fillId, park what breaks the contract. */
export function startFillIntake(deps: { js: JetStreamClient; jsm: JetStreamManager; pool: Pool; names: NatsNames; log: Logger }) {
  const { names } = deps;
  return startDurableIntake(deps, { stream: names.meFillStream, consumer: names.fillIntakeConsumer, filterSubject: names.meFillSubjectAll, ...defaultDurableIntakeLimits }, async (msg) => {
    const parsed = parseFill(msg.data, { subjectUserId: msg.subject.slice(msg.subject.lastIndexOf('.') + 1) });
    if (!parsed.ok) return { done: false, parkReason: `${parsed.code}: ${parsed.reason}` };
    await storeFill(deps.pool, parsed.event);
    return { done: true };
  });
}

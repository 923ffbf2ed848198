import { jetstreamManager } from '@nats-io/jetstream';
import { SimulatedMarkPrices, type MarkPrice, type MarkPriceSource } from '../../adapters/mark-prices/index.js';
import { minorToDecimal, signedDecimalToMinor } from '../../config/decimal.js';
import type { Pool } from '../../db/pool.js';
import { natsNames } from '../../nats/names.js';
import type { Fill } from '../money/fill.js';
import { moneyScale } from '../money/rounding.js';
import { EodStepFailure, type EodStepContext, type JsonObject } from './step.js';

/** Lines a step lists in the report at most; the rest are counted (`linesOmitted`) and kept in their table. */
export const linesListedMax = 1_000;
const fillWaitPollMs = 250;

export const whole = (m: bigint): string => minorToDecimal(m, moneyScale);
export const minor = (text: string): bigint => signedDecimalToMinor(text, moneyScale);
export const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Whether every fill before the cutover is stored: one with ts at or after it is stored, or the
 * fill intake's consumer has nothing pending (or there is no fill stream in this deployment).
 */
async function fillsComplete(context: EodStepContext): Promise<boolean> {
  const after = await context.pool.query('SELECT 1 FROM fills WHERE ts >= $1 LIMIT 1', [iso(context.window.endMs)]);
  if ((after.rowCount ?? 0) > 0) return true;
  const names = natsNames(context.settings.NAMESPACE);
  try {
    const info = await (await jetstreamManager(context.nc)).consumers.info(names.meFillStream, names.fillIntakeConsumer);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  } catch {
    return true;
  }
}

async function loadFills(pool: Pool, fromMs: number | null, toMs: number): Promise<Fill[]> {
  const result = await pool.query<{ fill_id: string; seq: string; user_id: string; market: string; base: string; quote: string; side: 'buy' | 'sell'; liquidity: 'maker' | 'taker'; price: string; quantity: string; fee: string; fee_currency: string; ts: Date }>(
    `SELECT fill_id, seq::text, user_id, market, base, quote, side, liquidity, price::text, quantity::text, fee::text, fee_currency, ts
       FROM fills WHERE ts < $1 AND ($2::timestamptz IS NULL OR ts >= $2)`, [iso(toMs), fromMs === null ? null : iso(fromMs)]);
  return result.rows.map((r) => ({
    fillId: r.fill_id, seq: Number(r.seq), userId: r.user_id, market: r.market, base: r.base, quote: r.quote, side: r.side, liquidity: r.liquidity,
    priceMinor: minor(r.price), quantityMinor: minor(r.quantity), feeMinor: minor(r.fee), feeCurrency: r.fee_currency, tsMs: r.ts.getTime(),
  }));
}

/** Resolves once every fill before the cutover is stored (within the step's timeout). */
export function fillsStored(context: EodStepContext): Promise<void> {
  return context.shared('fills-stored', async () => {
    while (!(await fillsComplete(context))) {
      if (context.signal.aborted) throw new EodStepFailure('the fill intake did not reach the cutover before the step timed out');
      await new Promise((resolve) => setTimeout(resolve, fillWaitPollMs));
    }
  });
}

/** The fills of the business day (ts in the window), once every fill before the cutover is stored; shared by the steps. */
export function dayFills(context: EodStepContext): Promise<Fill[]> {
  return context.shared('day-fills', async () => {
    await fillsStored(context);
    return loadFills(context.pool, context.window.startMs, context.window.endMs);
  });
}

/** Every fill before the cutover (the first close, which has no previous positions to start from). */
export async function fillsBeforeCut(context: EodStepContext): Promise<Fill[]> {
  await fillsStored(context);
  return loadFills(context.pool, null, context.window.endMs);
}

/** The deployment's mark price source (the simulated one until a real feed is configured). */
export function markPriceSource(context: EodStepContext): MarkPriceSource {
  return new SimulatedMarkPrices(context.pool);
}

/** Marks at the cut for these markets, shared by the steps (the same price for P&L and volume). */
export async function marksAtCut(context: EodStepContext, markets: readonly string[]): Promise<MarkPrice[]> {
  const source = markPriceSource(context);
  return source.pricesAt(markets, context.window.endMs);
}

export const markFigures = (marks: readonly MarkPrice[]): JsonObject[] =>
  marks.map((m) => ({ market: m.market, price: whole(m.priceMinor), source: m.source, at: iso(m.atMs) }));

/**
 * The close's own ledger postings (fee accrual, staking rewards) are dated at the cutover: the
 * first instant of the next business day (ADR 0022). The day being closed keeps the figures its
 * cut was taken from; the next day's ledger includes them; no sealed day is ever written into.
 */
export const postingInstant = (context: EodStepContext): string => iso(context.window.endMs);

import { z } from 'zod';
import { userIdSchema } from '../../actors/identifiers.js';
import { minorToDecimal } from '../../config/decimal.js';
import type { Fill } from '../../eod/money/fill.js';
import { amountSchema, balanceScale, type ParseResult } from './contract.js';

/**
 * Fills on `me.fill.<userId>` (docs/contract.md, docs/matching-engine-contract.md): one message per
 * user side of a trade, `fee` already charged in the engine's balances and the ledger's trade
 * journal (its fee leg credits `house:fees_unaccrued`). Parsed here, never applied unparsed.
 */

/** A currency inside a market: no `-`, which separates base from quote. */
const marketCurrency = /^[A-Za-z0-9_.]{1,32}$/;
export const fillIdSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'fillId must be 1–128 characters of A-Z a-z 0-9 _ . : -');

const fillWireSchema = z.object({
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  fillId: fillIdSchema,
  userId: userIdSchema,
  market: z.string().regex(/^[A-Za-z0-9_.]{1,32}-[A-Za-z0-9_.]{1,32}$/, 'market must be BASE-QUOTE (e.g. BTC-USDT)'),
  side: z.enum(['buy', 'sell']),
  liquidity: z.enum(['maker', 'taker']),
  price: amountSchema,
  quantity: amountSchema,
  fee: amountSchema,
  feeCurrency: z.string().regex(marketCurrency, 'feeCurrency must be 1–32 characters of A-Z a-z 0-9 _ .'),
  ts: z.union([
    z.iso.datetime({ offset: true }).transform((text) => new Date(text).getTime()),
    z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  ]),
});

export interface FillWire {
  seq: number;
  fillId: string;
  userId: string;
  market: string;
  side: 'buy' | 'sell';
  liquidity: 'maker' | 'taker';
  price: string;
  quantity: string;
  fee: string;
  feeCurrency: string;
  ts: string;
}

/** Parses one fill; never throws. `subjectUserId` (the subject's last token) must equal the payload's userId. */
export function parseFill(input: unknown, options: { subjectUserId?: string } = {}): ParseResult<Fill> {
  let value: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input));
    } catch (error) {
      return { ok: false, code: 'INVALID_JSON', reason: `not JSON: ${(error as Error).message}` };
    }
  }
  const parsed = fillWireSchema.safeParse(value);
  if (!parsed.success) {
    return { ok: false, code: 'INVALID_SHAPE', reason: parsed.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ') };
  }
  const w = parsed.data;
  if (w.price === 0n) return { ok: false, code: 'INVALID_SHAPE', reason: 'price: must be greater than 0' };
  if (w.quantity === 0n) return { ok: false, code: 'INVALID_SHAPE', reason: 'quantity: must be greater than 0' };
  if (options.subjectUserId !== undefined && options.subjectUserId !== w.userId) {
    return { ok: false, code: 'SUBJECT_MISMATCH', reason: `subject user "${options.subjectUserId}" ≠ payload userId "${w.userId}"` };
  }
  const [base, quote] = w.market.split('-') as [string, string];
  return {
    ok: true,
    event: {
      fillId: w.fillId, seq: w.seq, userId: w.userId, market: w.market, base, quote, side: w.side, liquidity: w.liquidity,
      priceMinor: w.price, quantityMinor: w.quantity, feeMinor: w.fee, feeCurrency: w.feeCurrency, tsMs: w.ts,
    },
  };
}

export function fillWireOf(fill: Fill): FillWire {
  const d = (m: bigint): string => minorToDecimal(m, balanceScale);
  return {
    seq: fill.seq, fillId: fill.fillId, userId: fill.userId, market: fill.market, side: fill.side, liquidity: fill.liquidity,
    price: d(fill.priceMinor), quantity: d(fill.quantityMinor), fee: d(fill.feeMinor), feeCurrency: fill.feeCurrency, ts: new Date(fill.tsMs).toISOString(),
  };
}

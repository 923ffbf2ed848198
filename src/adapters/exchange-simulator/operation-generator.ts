import { BalanceRegistry, type BalanceDelta } from './balance-registry.js';
import { houseCustody, houseFees, journalImbalance, type Journal, type LedgerEntryDraft, type Operation } from './operation.js';
import type { Prng } from './prng.js';
import type { Fill } from '../../eod/money/fill.js';

/** A fill as the generator decides it; the simulator numbers and stamps it when it publishes. */
export type FillDraft = Omit<Fill, 'seq' | 'tsMs'>;

const unitMinor = 10n ** 18n;
/** Amounts are generated on a 10^-8 grid so they read like real balances; the scale stays 18. */
const granuleMinor = 10n ** 10n;
const depositGranulesMax = 100_000_000_000n; // 1,000 units
const priceHundredthsMax = 10_000; // 0.01 … 100 quote per base

export const feeSchedule = { makerFeeBps: 10, takerFeeBps: 20 } as const;

export const generatorLimits = {
  pendingOrdersMax: 256,
  pendingWithdrawalsMax: 256,
} as const;

/** Weights out of 100; an action that is impossible right now falls back to a deposit. */
const actionWeights = [
  ['deposit', 25],
  ['withdrawal_request', 8],
  ['withdrawal', 8],
  ['order', 24],
  ['trade', 30],
  ['cancel', 5],
] as const;

interface PendingOrder {
  orderId: string;
  makerId: string;
  base: string;
  quote: string;
  qtyMinor: bigint;
  priceMinor: bigint;
}

interface PendingWithdrawal {
  withdrawalId: string;
  userId: string;
  currency: string;
  amountMinor: bigint;
}

/** The credit each side of a trade received, for the doubleApplyTrade fault. */
export interface TradeCredits {
  maker: BalanceDelta;
  taker: BalanceDelta;
}

export type GeneratedOperation = Operation & { trade?: TradeCredits; fills?: FillDraft[] };

export interface GeneratorConfig {
  userIds: readonly string[];
  currencies: readonly string[];
  /** Prefix of journal and reference ids, so that runs sharing a database never collide. */
  runTag: string;
}

const onGrid = (minor: bigint): bigint => (minor / granuleMinor) * granuleMinor;

/**
 * Decides the exchange's next business event from a seeded PRNG and its own view of the engine's
 * balances (`planned`: applied at decision time, ahead of any simulated engine lag), so the same
 * seed gives the same sequence of operations whatever the timing.
 */
export class OperationGenerator {
  readonly planned = new BalanceRegistry();
  private readonly orders: PendingOrder[] = [];
  private readonly withdrawals: PendingWithdrawal[] = [];
  private counter = 0;

  constructor(
    private readonly prng: Prng,
    private readonly config: GeneratorConfig,
  ) {
    if (config.userIds.length < 2) throw new RangeError('the simulator needs at least 2 users');
    if (config.currencies.length < 2) throw new RangeError('the simulator needs at least 2 currencies');
  }

  /** The next operation, already applied to `planned`. */
  next(): GeneratedOperation {
    const op = this.decide();
    this.planned.apply(op.engine);
    if (op.journal) {
      const imbalance = journalImbalance(op.journal);
      if (imbalance) throw new Error(imbalance);
    }
    return op;
  }

  /** An engine-side change the generator did not decide (a fault); kept in the view so later decisions stay fundable. */
  applyExtra(deltas: readonly BalanceDelta[]): void {
    this.planned.apply(deltas);
  }

  private nextId(kind: string): string {
    this.counter += 1;
    return `${this.config.runTag}:${kind}:${this.counter}`;
  }

  private decide(): GeneratedOperation {
    let roll = this.prng.intBelow(100);
    for (const [action, weight] of actionWeights) {
      if (roll >= weight) {
        roll -= weight;
        continue;
      }
      const op =
        action === 'deposit' ? null
        : action === 'withdrawal_request' ? this.withdrawalRequest()
        : action === 'withdrawal' ? this.withdrawal()
        : action === 'order' ? this.order()
        : action === 'trade' ? this.trade()
        : this.cancel();
      return op ?? this.deposit();
    }
    return this.deposit();
  }

  private deposit(): GeneratedOperation {
    const userId = this.prng.pick(this.config.userIds);
    const currency = this.prng.pick(this.config.currencies);
    const amountMinor = (1n + this.prng.bigintBelow(depositGranulesMax)) * granuleMinor;
    const id = this.nextId('deposit');
    return {
      kind: 'deposit',
      engine: [{ userId, currency, availableDeltaMinor: amountMinor, lockedDeltaMinor: 0n }],
      journal: {
        journalId: id,
        entries: [
          { userId, currency, amountMinor, referenceType: 'deposit', referenceId: id },
          { userId: houseCustody, currency, amountMinor: -amountMinor, referenceType: 'deposit', referenceId: id },
        ],
      },
    };
  }

  /** A random slice (1–50 %) of what the user has available, or null when there is nothing to take. */
  private slice(userId: string, currency: string, percentMax: number): bigint | null {
    const available = this.planned.get(userId, currency).availableMinor;
    const amount = onGrid((available * BigInt(this.prng.intBetween(1, percentMax))) / 100n);
    return amount > 0n ? amount : null;
  }

  private withdrawalRequest(): GeneratedOperation | null {
    if (this.withdrawals.length >= generatorLimits.pendingWithdrawalsMax) return null;
    const userId = this.prng.pick(this.config.userIds);
    const currency = this.prng.pick(this.config.currencies);
    const amountMinor = this.slice(userId, currency, 50);
    if (amountMinor === null) return null;
    this.withdrawals.push({ withdrawalId: this.nextId('withdrawal'), userId, currency, amountMinor });
    // The engine holds the funds while custody sends them; the ledger books nothing yet.
    return { kind: 'withdrawal_request', engine: [{ userId, currency, availableDeltaMinor: -amountMinor, lockedDeltaMinor: amountMinor }], journal: null };
  }

  private withdrawal(): GeneratedOperation | null {
    if (this.withdrawals.length === 0) return null;
    const [w] = this.withdrawals.splice(this.prng.intBelow(this.withdrawals.length), 1) as [PendingWithdrawal];
    return {
      kind: 'withdrawal',
      engine: [{ userId: w.userId, currency: w.currency, availableDeltaMinor: 0n, lockedDeltaMinor: -w.amountMinor }],
      journal: {
        journalId: w.withdrawalId,
        entries: [
          { userId: w.userId, currency: w.currency, amountMinor: -w.amountMinor, referenceType: 'withdrawal', referenceId: w.withdrawalId },
          { userId: houseCustody, currency: w.currency, amountMinor: w.amountMinor, referenceType: 'withdrawal', referenceId: w.withdrawalId },
        ],
      },
    };
  }

  private order(): GeneratedOperation | null {
    if (this.orders.length >= generatorLimits.pendingOrdersMax) return null;
    const makerId = this.prng.pick(this.config.userIds);
    const base = this.prng.pick(this.config.currencies);
    const quote = this.pickOther(base);
    const qtyMinor = this.slice(makerId, base, 50);
    if (qtyMinor === null) return null;
    const priceMinor = BigInt(this.prng.intBetween(1, priceHundredthsMax)) * (unitMinor / 100n);
    this.orders.push({ orderId: this.nextId('order'), makerId, base, quote, qtyMinor, priceMinor });
    // A resting sell order locks the base it offers.
    return { kind: 'order', engine: [{ userId: makerId, currency: base, availableDeltaMinor: -qtyMinor, lockedDeltaMinor: qtyMinor }], journal: null };
  }

  /** Cancels every resting order of a user (the engine obeying `me.cmd.cancel_orders`), already applied to `planned`. */
  cancelOrdersOf(userId: string): GeneratedOperation[] {
    const ops: GeneratedOperation[] = [];
    for (let i = this.orders.length - 1; i >= 0; i -= 1) {
      const o = this.orders[i] as PendingOrder;
      if (o.makerId !== userId) continue;
      this.orders.splice(i, 1);
      const op: GeneratedOperation = { kind: 'cancel', engine: [{ userId: o.makerId, currency: o.base, availableDeltaMinor: o.qtyMinor, lockedDeltaMinor: -o.qtyMinor }], journal: null };
      this.planned.apply(op.engine);
      ops.push(op);
    }
    return ops;
  }

  private cancel(): GeneratedOperation | null {
    if (this.orders.length === 0) return null;
    const [o] = this.orders.splice(this.prng.intBelow(this.orders.length), 1) as [PendingOrder];
    return { kind: 'cancel', engine: [{ userId: o.makerId, currency: o.base, availableDeltaMinor: o.qtyMinor, lockedDeltaMinor: -o.qtyMinor }], journal: null };
  }

  /** Fills (part of) a resting order against a taker who can pay for it. */
  private trade(): GeneratedOperation | null {
    if (this.orders.length === 0) return null;
    const index = this.prng.intBelow(this.orders.length);
    const o = this.orders[index] as PendingOrder;
    const takerId = this.pickOther(o.makerId, this.config.userIds);
    const takerQuoteMinor = this.planned.get(takerId, o.quote).availableMinor;
    const affordableMinor = onGrid((takerQuoteMinor * unitMinor) / o.priceMinor);
    const qtyMinor = affordableMinor < o.qtyMinor ? affordableMinor : o.qtyMinor;
    const notionalMinor = onGrid((qtyMinor * o.priceMinor) / unitMinor);
    if (qtyMinor === 0n || notionalMinor === 0n) return null;
    o.qtyMinor -= qtyMinor;
    if (o.qtyMinor === 0n) this.orders.splice(index, 1);

    const makerFeeMinor = (notionalMinor * BigInt(feeSchedule.makerFeeBps)) / 10_000n;
    const takerFeeMinor = (qtyMinor * BigInt(feeSchedule.takerFeeBps)) / 10_000n;
    const tradeId = this.nextId('trade');
    const makerCredit: BalanceDelta = { userId: o.makerId, currency: o.quote, availableDeltaMinor: notionalMinor - makerFeeMinor, lockedDeltaMinor: 0n };
    const takerCredit: BalanceDelta = { userId: takerId, currency: o.base, availableDeltaMinor: qtyMinor - takerFeeMinor, lockedDeltaMinor: 0n };
    const entry = (userId: string, currency: string, amountMinor: bigint, referenceType: 'trade' | 'fee'): LedgerEntryDraft => ({
      userId,
      currency,
      amountMinor,
      referenceType,
      referenceId: tradeId,
    });
    const entries = [
      entry(o.makerId, o.base, -qtyMinor, 'trade'),
      entry(takerId, o.base, qtyMinor, 'trade'),
      entry(takerId, o.quote, -notionalMinor, 'trade'),
      entry(o.makerId, o.quote, notionalMinor, 'trade'),
      entry(o.makerId, o.quote, -makerFeeMinor, 'fee'),
      entry(houseFees, o.quote, makerFeeMinor, 'fee'),
      entry(takerId, o.base, -takerFeeMinor, 'fee'),
      entry(houseFees, o.base, takerFeeMinor, 'fee'),
    ].filter((e) => e.amountMinor !== 0n);
    const journal: Journal = { journalId: tradeId, entries };
    return {
      kind: 'trade',
      engine: [
        { userId: o.makerId, currency: o.base, availableDeltaMinor: 0n, lockedDeltaMinor: -qtyMinor },
        makerCredit,
        { userId: takerId, currency: o.quote, availableDeltaMinor: -notionalMinor, lockedDeltaMinor: 0n },
        takerCredit,
      ],
      journal,
      trade: { maker: { ...makerCredit }, taker: { ...takerCredit } },
      // The maker sold base at its price (fee in quote); the taker bought it (fee in base).
      fills: [
        { fillId: `${tradeId}:maker`, userId: o.makerId, market: `${o.base}-${o.quote}`, base: o.base, quote: o.quote, side: 'sell', liquidity: 'maker', priceMinor: o.priceMinor, quantityMinor: qtyMinor, feeMinor: makerFeeMinor, feeCurrency: o.quote },
        { fillId: `${tradeId}:taker`, userId: takerId, market: `${o.base}-${o.quote}`, base: o.base, quote: o.quote, side: 'buy', liquidity: 'taker', priceMinor: o.priceMinor, quantityMinor: qtyMinor, feeMinor: takerFeeMinor, feeCurrency: o.base },
      ],
    };
  }

  private pickOther(not: string, from: readonly string[] = this.config.currencies): string {
    const offset = 1 + this.prng.intBelow(from.length - 1);
    return from[(from.indexOf(not) + offset) % from.length] as string;
  }
}

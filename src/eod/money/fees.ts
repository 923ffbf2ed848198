import type { Fill } from './fill.js';

export interface FeeTotal {
  userId: string;
  currency: string;
  feeMinor: bigint;
  fills: number;
}

/** Σ fee per (user, fee currency) of the given fills, sorted by user then currency. */
export function sumFees(fills: readonly Fill[]): FeeTotal[] {
  const totals = new Map<string, FeeTotal>();
  for (const f of fills) {
    const key = `${f.userId}\u0000${f.feeCurrency}`;
    const t = totals.get(key) ?? { userId: f.userId, currency: f.feeCurrency, feeMinor: 0n, fills: 0 };
    t.feeMinor += f.feeMinor;
    t.fills += 1;
    totals.set(key, t);
  }
  return [...totals.values()].sort((a, b) => (a.userId !== b.userId ? (a.userId < b.userId ? -1 : 1) : a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0));
}

export interface FeeCrossCheck {
  currency: string;
  /** Σ fills' fees of the day in this currency. */
  fillsMinor: bigint;
  /** The day's movement of house:fees_unaccrued in this currency, the close's own accruals left out. */
  ledgerMinor: bigint;
  deltaMinor: bigint;
}

/** Per currency: fills' fees against the ledger's fee account movement; a non-zero delta is a break. */
export function crossCheckFees(totals: readonly FeeTotal[], ledgerMovement: ReadonlyMap<string, bigint>): FeeCrossCheck[] {
  const fromFills = new Map<string, bigint>();
  for (const t of totals) fromFills.set(t.currency, (fromFills.get(t.currency) ?? 0n) + t.feeMinor);
  const currencies = [...new Set([...fromFills.keys(), ...ledgerMovement.keys()])].sort();
  return currencies.map((currency) => {
    const fillsMinor = fromFills.get(currency) ?? 0n;
    const ledgerMinor = ledgerMovement.get(currency) ?? 0n;
    return { currency, fillsMinor, ledgerMinor, deltaMinor: fillsMinor - ledgerMinor };
  });
}

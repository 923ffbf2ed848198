/** Money in the close: bigint minor units of 10^-18 (numeric(38,18)). */
export const moneyScale = 18;
export const unitMinor = 10n ** 18n;

/**
 * n / d rounded half to even (banker's rounding), exact on bigints. The one rounding rule of
 * the money steps (ADR 0022): applied once where a product of two amounts is brought back to
 * 18 decimals, and where a cost basis is split; never twice on the same figure.
 */
export function divideHalfEven(n: bigint, d: bigint): bigint {
  if (d === 0n) throw new RangeError('division by zero');
  if (d < 0n) return divideHalfEven(-n, -d);
  const q = n / d; // truncates toward zero
  const r = n - q * d;
  if (r === 0n) return q;
  const twice = 2n * (r < 0n ? -r : r);
  const away = n < 0n ? q - 1n : q + 1n;
  if (twice > d) return away;
  if (twice < d) return q;
  return q % 2n === 0n ? q : away;
}

/** amount × price, both at 18 decimals, back to 18 decimals (half even). */
export function multiplyAmounts(aMinor: bigint, bMinor: bigint): bigint {
  return divideHalfEven(aMinor * bMinor, unitMinor);
}

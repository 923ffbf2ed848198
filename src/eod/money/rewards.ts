export interface StakePosition {
  userId: string;
  amountMinor: bigint;
}

export interface RewardShare {
  userId: string;
  rewardMinor: bigint;
}

/**
 * Splits `poolMinor` pro rata to the positions by the largest-remainder rule (ADR 0022): each
 * gets ⌊pool × amount / Σ⌋; the minor units left over go one each to the largest remainders,
 * ties to the smaller userId. Σ paid = pool exactly; each share is within one minor unit of the
 * exact share; positions ≤ 0 get nothing. Pure.
 */
export function splitPool(poolMinor: bigint, positions: readonly StakePosition[]): RewardShare[] {
  if (poolMinor < 0n) throw new RangeError('the pool must not be negative');
  const stakers = positions.filter((p) => p.amountMinor > 0n).sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
  for (let i = 1; i < stakers.length; i += 1) if (stakers[i]!.userId === stakers[i - 1]!.userId) throw new RangeError(`user ${stakers[i]!.userId} listed twice`);
  const totalMinor = stakers.reduce((s, p) => s + p.amountMinor, 0n);
  if (totalMinor === 0n || poolMinor === 0n) return stakers.map((p) => ({ userId: p.userId, rewardMinor: 0n }));
  const shares = stakers.map((p, index) => {
    const exact = poolMinor * p.amountMinor;
    return { index, userId: p.userId, rewardMinor: exact / totalMinor, remainder: exact % totalMinor };
  });
  let leftMinor = poolMinor - shares.reduce((s, x) => s + x.rewardMinor, 0n);
  const byRemainder = [...shares].sort((a, b) => (a.remainder !== b.remainder ? (a.remainder > b.remainder ? -1 : 1) : a.index - b.index));
  for (const s of byRemainder) {
    if (leftMinor === 0n) break;
    s.rewardMinor += 1n;
    leftMinor -= 1n;
  }
  return shares.map((s) => ({ userId: s.userId, rewardMinor: s.rewardMinor }));
}

/**
 * xoshiro128** seeded through splitmix32: small, fast, and the same sequence on every platform,
 * so a simulator run is reproducible from its seed. Not for anything secret.
 */
export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
    // splitmix32 spreads any seed (even 0) over the 128-bit state, which must not be all zeros.
    let state = (seed ^ Math.floor(seed / 2 ** 32)) | 0;
    const splitmix32 = (): number => {
      state = (state + 0x9e3779b9) | 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.s0 = splitmix32();
    this.s1 = splitmix32();
    this.s2 = splitmix32();
    this.s3 = splitmix32();
  }

  nextUint32(): number {
    const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform integer in [0, n), n ≤ 2^32, by rejection (no modulo bias). */
  intBelow(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new RangeError(`intBelow: n must be an integer in 1…2^32, got ${n}`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform integer in [low, high]. */
  intBetween(low: number, high: number): number {
    return low + this.intBelow(high - low + 1);
  }

  /** Uniform bigint in [0, n), by rejection over enough 32-bit words. */
  bigintBelow(n: bigint): bigint {
    if (n < 1n) throw new RangeError(`bigintBelow: n must be ≥ 1, got ${n}`);
    const words = Math.max(1, Math.ceil(n.toString(2).length / 32));
    const span = 1n << BigInt(32 * words);
    const limit = span - (span % n);
    for (;;) {
      let x = 0n;
      for (let i = 0; i < words; i++) x = (x << 32n) | BigInt(this.nextUint32());
      if (x < limit) return x % n;
    }
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick: no items');
    return items[this.intBelow(items.length)] as T;
  }

  /** True with probability `p` (0…1). */
  chance(p: number): boolean {
    return this.nextUint32() < p * 2 ** 32;
  }
}

import { createHash } from 'node:crypto';

const modulus = 1n << 256n;

/**
 * An order-independent digest of a set of (key, value) leaves that is updated per change:
 * the sum, mod 2^256, of each leaf's SHA-256. Replacing a leaf subtracts its old hash and
 * adds the new one, so sealing costs what changed since the last seal, not the size of
 * the set. Two cuts with the same leaves have the same digest whatever the order of updates.
 */
export class CutDigest {
  private sum = 0n;

  static leafHash(key: string, value: string): bigint {
    return BigInt(`0x${createHash('sha256').update(key).update('\u0000').update(value).digest('hex')}`);
  }

  replace(key: string, oldValue: string | null, newValue: string): void {
    if (oldValue !== null) this.sum = (this.sum - CutDigest.leafHash(key, oldValue) + modulus) % modulus;
    this.sum = (this.sum + CutDigest.leafHash(key, newValue)) % modulus;
  }

  hex(): string {
    return this.sum.toString(16).padStart(64, '0');
  }
}

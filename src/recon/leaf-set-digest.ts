import { CutDigest } from './cut-digest.js';

const modulus = 1n << 256n;

/**
 * CutDigest's order-independent sum of leaf hashes, with leaves that can also leave the set
 * (an address whose stake went to zero on both sides), so a restart that rebuilds the set
 * from scratch gets the same digest as the process that saw the address come and go.
 */
export class LeafSetDigest {
  private readonly leaves = new Map<string, string>();
  private sum = 0n;

  /** Sets (or, with null, removes) a leaf; a no-op when the value is unchanged. */
  set(key: string, value: string | null): void {
    const old = this.leaves.get(key);
    if (old === (value ?? undefined)) return;
    if (old !== undefined) this.sum = (this.sum - CutDigest.leafHash(key, old) + modulus) % modulus;
    if (value === null) {
      this.leaves.delete(key);
      return;
    }
    this.leaves.set(key, value);
    this.sum = (this.sum + CutDigest.leafHash(key, value)) % modulus;
  }

  keys(): IterableIterator<string> {
    return this.leaves.keys();
  }

  get size(): number {
    return this.leaves.size;
  }

  hex(): string {
    return this.sum.toString(16).padStart(64, '0');
  }
}

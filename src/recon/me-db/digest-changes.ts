import type { CutDigest } from '../cut-digest.js';
import type { PositionBook } from './positions.js';
import { leafValue } from './seal-record.js';

/**
 * The positions changed since the cut digest was last brought up to date, each with its leaf as
 * it was then. The digest is updated once per changed position at each checkpoint (and so at
 * each seal), not once per event or row: on a backlog a position changes many times between two
 * checkpoints, and each update is two SHA-256s. The result is the same digest (ADR 0009).
 */
export class DigestChanges {
  private readonly leafBefore = new Map<string, string | null>();

  get size(): number {
    return this.leafBefore.size;
  }

  /** A position the book did not hold before (a seeded one): added to the digest at the next update. */
  noteNew(key: string): void {
    if (!this.leafBefore.has(key)) this.leafBefore.set(key, null);
  }

  /** Call before changing the position at `key`. */
  noteBefore(book: PositionBook, key: string): void {
    if (this.leafBefore.has(key)) return;
    const p = book.get(key);
    this.leafBefore.set(key, p ? leafValue(p.engineTotalMinor, p.ledgerTotalMinor) : null);
  }

  flushInto(digest: CutDigest, book: PositionBook): void {
    for (const [key, before] of this.leafBefore) {
      const p = book.get(key);
      const after = p ? leafValue(p.engineTotalMinor, p.ledgerTotalMinor) : null;
      if (p && after !== null && after !== before) digest.replace(`${p.userId}/${p.currency}`, before, after);
    }
    this.leafBefore.clear();
  }
}

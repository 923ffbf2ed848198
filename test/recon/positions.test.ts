import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyOf, PositionBook, type PositionSource, type SavedPosition } from '../../src/recon/me-db/positions.js';

const graceMs = 5_000;
const book = () => new PositionBook({ graceMs, historyMs: 60_000, historyPointsMax: 2_000 });
const k = keyOf('u1', 'BTC');

describe('PositionBook.evaluate', () => {
  it('equal sides are equal', () => {
    const b = book();
    b.applyEngine('u1', 'BTC', 100n, 1, 0);
    b.applyLedger('u1', 'BTC', 100n, 10);
    expect(b.evaluate(k, 20)).toBe('equal');
  });

  it('a ledger lagging the engine by less than the grace window is in flight, never a break', () => {
    const b = book();
    // The engine moves every 100 ms; the ledger follows each change 2 s later.
    for (let t = 0; t < 60_000; t += 100) {
      b.applyEngine('u1', 'BTC', BigInt(t / 100 + 1), t / 100 + 1, t);
      if (t >= 2_000) b.applyLedger('u1', 'BTC', 1n, t);
      expect(b.evaluate(k, t)).not.toBe('break');
    }
  });

  it('an engine lagging the ledger is in flight too', () => {
    const b = book();
    b.applyLedger('u1', 'BTC', 5n, 0);
    expect(b.evaluate(k, 1_000)).toBe('in_flight');
    b.applyEngine('u1', 'BTC', 5n, 1, 2_000);
    expect(b.evaluate(k, 2_000)).toBe('equal');
  });

  it('a dropped ledger write is a break once the change it missed is older than the grace window', () => {
    const b = book();
    b.applyEngine('u1', 'BTC', 100n, 1, 0);
    b.applyLedger('u1', 'BTC', 100n, 0);
    b.applyEngine('u1', 'BTC', 150n, 2, 1_000); // the ledger never books these 50
    expect(b.evaluate(k, 1_000 + graceMs - 1)).toBe('in_flight');
    expect(b.evaluate(k, 1_000 + graceMs)).toBe('break');
  });

  it('a doubled engine change is a break even though the ledger matches an older engine value', () => {
    const b = book();
    b.applyEngine('u1', 'BTC', 100n, 1, 0);
    b.applyLedger('u1', 'BTC', 100n, 0);
    b.applyEngine('u1', 'BTC', 200n, 2, 10_000); // applied twice: the ledger will stay at 100
    expect(b.evaluate(k, 12_000)).toBe('in_flight');
    expect(b.evaluate(k, 15_000)).toBe('break');
  });

  it('values matching no history are a break after the grace window', () => {
    const b = book();
    b.applyEngine('u1', 'BTC', 7n, 1, 0);
    b.applyLedger('u1', 'BTC', 9n, 0);
    expect(b.evaluate(k, graceMs - 1)).toBe('in_flight');
    expect(b.evaluate(k, graceMs)).toBe('break');
  });

  it('property: with the ledger replaying the engine\'s changes at any lag below the grace window, no break', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 2_000 }), deltaMinor: fc.bigInt({ min: -1_000n, max: 1_000n }) }), { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 0, max: graceMs - 1 }),
        (changes, lagMs) => {
          const b = book();
          let total = 0n;
          let t = 0;
          const ledgerQueue: Array<{ atMs: number; deltaMinor: bigint }> = [];
          for (const [i, c] of changes.entries()) {
            t += c.gapMs;
            // Ledger rows due before this engine change land first.
            while (ledgerQueue.length > 0 && (ledgerQueue[0]?.atMs ?? Infinity) <= t) {
              const due = ledgerQueue.shift();
              if (due) b.applyLedger('u1', 'BTC', due.deltaMinor, due.atMs);
              if (b.evaluate(k, due?.atMs ?? t) === 'break') return false;
            }
            total += c.deltaMinor;
            b.applyEngine('u1', 'BTC', total, i + 1, t);
            ledgerQueue.push({ atMs: t + lagMs, deltaMinor: c.deltaMinor });
            if (b.evaluate(k, t) === 'break') return false;
          }
          for (const due of ledgerQueue) {
            b.applyLedger('u1', 'BTC', due.deltaMinor, due.atMs);
            if (b.evaluate(k, due.atMs) === 'break') return false;
          }
          return b.evaluate(k, t + lagMs) === 'equal';
        },
      ),
      { numRuns: 300 },
    );
  });
});

/**
 * The position cap (ADR 0026): a book that evicts every clean, agreeing position after each
 * step and loads it back before the next judges exactly as one that holds everything. The
 * saved positions are kept in a Map, as a checkpoint writes them to recon_me_db_positions.
 */
describe('PositionBook under a cap', () => {
  const savedIn = (saved: Map<string, SavedPosition>): PositionSource => ({
    positionsOfUsers: async (userIds) => [...saved.values()].filter((p) => userIds.includes(p.userId)),
    positionsWithEngineBalance: async () => [...saved.values()].filter((p) => p.engineTotalMinor !== 0n),
  });
  const cappedBook = (saved: Map<string, SavedPosition>, dirty: Set<string>, inMemoryMax = 0) => new PositionBook(
    { graceMs, historyMs: 60_000, historyPointsMax: 2_000, inMemoryMax },
    { source: savedIn(saved), pinOf: (key) => (dirty.has(key) ? 'dirty' : null), isWatched: () => true },
  );
  const checkpoint = (b: PositionBook, saved: Map<string, SavedPosition>, dirty: Set<string>) => {
    for (const key of dirty) {
      const p = b.get(key);
      if (p) saved.set(key, { userId: p.userId, currency: p.currency, engineTotalMinor: p.engineTotalMinor, engineSeq: p.engineSeq, ledgerTotalMinor: p.ledgerTotalMinor });
    }
    dirty.clear();
  };

  it('evicts only clean, agreeing positions, least recently used first, and knows every position', async () => {
    const saved = new Map<string, SavedPosition>();
    const dirty = new Set<string>();
    const b = cappedBook(saved, dirty, 2);
    for (const [i, u] of ['a', 'b', 'c', 'd'].entries()) {
      b.applyEngine(u, 'BTC', 5n, i + 1, 0);
      b.applyLedger(u, 'BTC', u === 'd' ? 4n : 5n, 0);
      dirty.add(keyOf(u, 'BTC'));
    }
    // All dirty: nothing evictable until a checkpoint.
    expect(b.evictToCap()).toEqual({ inMemory: 4, underCap: false, keptDirty: 3 });
    checkpoint(b, saved, dirty);
    // d differs (and is watched): kept; a, b and c go, least recently used first, down to 90% of the cap.
    expect(b.evictToCap()).toEqual({ inMemory: 1, underCap: true, keptDirty: 0 });
    expect([...b.values()].map((p) => p.userId)).toEqual(['d']);
    expect(b.size).toBe(4);
    expect(b.inMemory).toBe(1);
    // A key of a user not loaded while some are evicted is refused; loaded, it continues from its saved totals.
    expect(() => b.applyLedger('a', 'BTC', 1n, 1)).toThrow(/not loaded/);
    await b.ensureLoaded(['a', 'new']);
    b.applyLedger('a', 'BTC', 1n, 1);
    b.applyLedger('new', 'BTC', 1n, 1);
    expect(b.get(keyOf('a', 'BTC'))).toMatchObject({ engineTotalMinor: 5n, ledgerTotalMinor: 6n });
    expect(b.size).toBe(5);
  });

  /**
   * Evicting keeps one point per side. The one verdict that can differ: a side's value matching
   * one the other side held before they last agreed dates a lag from then and breaks sooner in a
   * book holding everything; the evicting book dates it from the change (never sooner).
   */
  it('property: evicting and loading back between any two steps never breaks sooner, and ends the same', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({
          side: fc.constantFrom('engine', 'ledger', 'judge'),
          gapMs: fc.integer({ min: 0, max: 3_000 }),
          valueMinor: fc.bigInt({ min: -3n, max: 3n }),
        }), { minLength: 1, maxLength: 60 }),
        async (steps) => {
          const held = book();
          const saved = new Map<string, SavedPosition>();
          const dirty = new Set<string>();
          const capped = cappedBook(saved, dirty);
          let t = 0;
          let seq = 0;
          for (const step of steps) {
            t += step.gapMs;
            await capped.ensureLoaded(['u1']);
            if (step.side === 'engine') {
              seq++;
              held.applyEngine('u1', 'BTC', step.valueMinor, seq, t);
              capped.applyEngine('u1', 'BTC', step.valueMinor, seq, t);
              dirty.add(k);
            } else if (step.side === 'ledger') {
              held.applyLedger('u1', 'BTC', step.valueMinor, t);
              capped.applyLedger('u1', 'BTC', step.valueMinor, t);
              dirty.add(k);
            } else {
              const [h, c] = [held.evaluate(k, t), capped.evaluate(k, t)];
              if (h !== c && !(h === 'break' && c === 'in_flight')) return false;
            }
            checkpoint(capped, saved, dirty);
            capped.evictToCap();
          }
          await capped.ensureLoaded(['u1']);
          const late = t + 2 * graceMs;
          return held.evaluate(k, late) === capped.evaluate(k, late) && held.size === capped.size;
        },
      ),
      { numRuns: 500 },
    );
  });
});

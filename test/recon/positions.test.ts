import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyOf, PositionBook } from '../../src/recon/me-db/positions.js';

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

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addDays, businessDateOf, businessWindow, isBusinessDate, lastClosedDate, type Cutover } from '../../src/eod/business-date.js';

const iso = (ms: number) => new Date(ms).toISOString();
const hourMs = 3_600_000;

describe('business dates (docs/contract.md §9)', () => {
  it('00:00 UTC: D = [D 00:00, D+1 00:00)', () => {
    const c: Cutover = { time: '00:00', zone: 'UTC' };
    const w = businessWindow('2026-03-08', c);
    expect(iso(w.startMs)).toBe('2026-03-08T00:00:00.000Z');
    expect(iso(w.endMs)).toBe('2026-03-09T00:00:00.000Z');
    expect(businessDateOf(Date.parse('2026-03-08T23:59:59Z'), c)).toBe('2026-03-08');
    expect(businessDateOf(Date.parse('2026-03-09T00:00:00Z'), c)).toBe('2026-03-09');
    expect(businessDateOf(Date.parse('2026-03-09T00:00:01Z'), c)).toBe('2026-03-09');
    expect(lastClosedDate(Date.parse('2026-03-09T00:00:00Z'), c)).toBe('2026-03-08');
    expect(lastClosedDate(Date.parse('2026-03-08T23:59:59Z'), c)).toBe('2026-03-07');
  });

  it('08:00 UTC: D = [D-1 08:00, D 08:00)', () => {
    const c: Cutover = { time: '08:00', zone: 'UTC' };
    const w = businessWindow('2026-06-10', c);
    expect(iso(w.startMs)).toBe('2026-06-09T08:00:00.000Z');
    expect(iso(w.endMs)).toBe('2026-06-10T08:00:00.000Z');
    expect(businessDateOf(Date.parse('2026-06-10T07:59:59Z'), c)).toBe('2026-06-10');
    expect(businessDateOf(Date.parse('2026-06-10T08:00:01Z'), c)).toBe('2026-06-11');
    expect(businessDateOf(Date.parse('2026-06-10T00:30:00Z'), c)).toBe('2026-06-10');
  });

  it('16:00 America/New_York: 23 h on 8 March 2026 (clocks forward), 25 h on 1 November 2026 (clocks back)', () => {
    const c: Cutover = { time: '16:00', zone: 'America/New_York' };
    const ordinary = businessWindow('2026-03-06', c);
    expect(iso(ordinary.startMs)).toBe('2026-03-05T21:00:00.000Z'); // 16:00 EST
    expect(ordinary.endMs - ordinary.startMs).toBe(24 * hourMs);
    const spring = businessWindow('2026-03-08', c);
    expect(iso(spring.startMs)).toBe('2026-03-07T21:00:00.000Z'); // 16:00 EST
    expect(iso(spring.endMs)).toBe('2026-03-08T20:00:00.000Z'); // 16:00 EDT
    expect(spring.endMs - spring.startMs).toBe(23 * hourMs);
    const autumn = businessWindow('2026-11-01', c);
    expect(iso(autumn.startMs)).toBe('2026-10-31T20:00:00.000Z'); // 16:00 EDT
    expect(iso(autumn.endMs)).toBe('2026-11-01T21:00:00.000Z'); // 16:00 EST
    expect(autumn.endMs - autumn.startMs).toBe(25 * hourMs);
    // A second before and after each cutover.
    expect(businessDateOf(spring.endMs - 1_000, c)).toBe('2026-03-08');
    expect(businessDateOf(spring.endMs + 1_000, c)).toBe('2026-03-09');
    expect(businessDateOf(autumn.endMs - 1_000, c)).toBe('2026-11-01');
    expect(businessDateOf(autumn.endMs + 1_000, c)).toBe('2026-11-02');
    // 17:00 local on 7 March belongs to the 8th.
    expect(businessDateOf(Date.parse('2026-03-07T22:00:00Z'), c)).toBe('2026-03-08');
  });

  it('a cutover inside the skipped hour is shifted forward by the gap (as Temporal does); a repeated hour is its first occurrence', () => {
    const skipped = businessWindow('2026-03-08', { time: '02:30', zone: 'America/New_York' });
    expect(iso(skipped.endMs)).toBe('2026-03-08T07:30:00.000Z'); // 03:30 EDT: 02:30 EST read after the jump
    const repeated = businessWindow('2026-11-01', { time: '01:30', zone: 'America/New_York' });
    expect(iso(repeated.endMs)).toBe('2026-11-01T05:30:00.000Z'); // 01:30 EDT, the first one
  });

  it('every instant lies in exactly the window of its business date, and windows tile time', () => {
    const zones = ['UTC', 'America/New_York', 'Europe/London', 'Asia/Kolkata', 'Australia/Lord_Howe'];
    fc.assert(fc.property(
      fc.integer({ min: Date.parse('2025-01-01'), max: Date.parse('2028-01-01') }),
      fc.constantFrom(...zones),
      fc.constantFrom('00:00', '08:00', '16:00', '23:30', '02:30'),
      (instant, zone, time) => {
        const c = { time, zone };
        const date = businessDateOf(instant, c);
        const w = businessWindow(date, c);
        expect(instant).toBeGreaterThanOrEqual(w.startMs);
        expect(instant).toBeLessThan(w.endMs);
        expect(businessWindow(addDays(date, 1), c).startMs).toBe(w.endMs);
      },
    ), { numRuns: 300 });
  });

  it('recognises calendar dates only', () => {
    expect(isBusinessDate('2026-02-28')).toBe(true);
    expect(isBusinessDate('2026-02-30')).toBe(false);
    expect(isBusinessDate('2026-2-3')).toBe(false);
  });
});

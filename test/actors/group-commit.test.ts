import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/actors/group-commit.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('answers every caller with its own result, never more than rowsMax per statement or flushesInFlightMax at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 120 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 3 }),
        async (arrivalTicks, rowsMax, flushesInFlightMax) => {
          const statements: number[][] = [];
          let inFlight = 0;
          let inFlightPeak = 0;
          const group = new GroupCommit<number, string>({
            rowsMax,
            flushesInFlightMax,
            async run(items) {
              inFlight++;
              inFlightPeak = Math.max(inFlightPeak, inFlight);
              statements.push([...items]);
              await tick();
              inFlight--;
              return items.map((i) => `r${i}`);
            },
          });
          const answers: Array<Promise<string>> = [];
          for (const [i, wait] of arrivalTicks.entries()) {
            for (let t = 0; t < wait; t++) await tick();
            answers.push(group.submit(i));
          }
          const results = await Promise.all(answers);
          expect(results).toEqual(arrivalTicks.map((_, i) => `r${i}`));
          expect(statements.flat().sort((a, b) => a - b)).toEqual(arrivalTicks.map((_, i) => i));
          expect(Math.max(...statements.map((s) => s.length))).toBeLessThanOrEqual(rowsMax);
          expect(inFlightPeak).toBeLessThanOrEqual(flushesInFlightMax);
          expect(group.depth).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('carries what arrives together in one statement', async () => {
    const sizes: number[] = [];
    const group = new GroupCommit<number, number>({ rowsMax: 100, flushesInFlightMax: 1, run: async (items) => (sizes.push(items.length), [...items]) });
    await Promise.all(Array.from({ length: 50 }, (_, i) => group.submit(i)));
    expect(sizes).toEqual([50]);
    expect(group.stats()).toEqual({ statements: 1, items: 50 });
  });

  it('a statement that fails is retried item by item: only the bad item fails', async () => {
    const group = new GroupCommit<number, number>({
      rowsMax: 10,
      flushesInFlightMax: 1,
      run: async (items) => {
        if (items.includes(3)) throw new Error('item 3 violates a constraint');
        return items.map((i) => i * 10);
      },
    });
    const outcomes = await Promise.allSettled([1, 2, 3, 4].map((i) => group.submit(i)));
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([10, 20, 'item 3 violates a constraint', 40]);
  });
});

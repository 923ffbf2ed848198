import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The suite's longest files, longest first (seconds in a full run on the 2-core CI machine, 2026-12-03).
 * A fresh clone has no vitest cache of durations, so the base sequencer would start these by
 * file size, some near the end, and the run would wait on one of them alone while the other
 * worker idles. Started first, the short files fill in around them. Names are paths from the
 * project root; a file missing here only loses its place in the order.
 */
export const longestTestFiles: readonly string[] = [
  'test/reliability/kill-loop.test.ts', // 98
  'test/reliability/custody-kill-loop.test.ts', // 96
  'test/eod/multi-instance.test.ts', // 88
  'test/recon/me-db-load.test.ts', // 62
  'test/engine/restart-gap.test.ts', // 39
  'test/recon/me-db-position-cap.test.ts', // 30
  'test/recon/me-db-cold-seed.test.ts', // 28
  'test/recon/break-outbox-crash.test.ts', // 27
  'test/cli/cli.test.ts', // 25
  'test/recon/me-db-ledger-catch-up-sums.test.ts', // 21
];

/** The base order (vitest's cache when it has one), with the known longest files moved to the front. */
export default class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const rank = (spec: TestSpecification): number => {
      const path = spec.moduleId.replaceAll('\\', '/');
      const index = longestTestFiles.findIndex((name) => path.endsWith(`/${name}`));
      return index === -1 ? longestTestFiles.length : index;
    };
    // Array.prototype.sort is stable: files not listed keep the base order among themselves.
    return base.sort((a, b) => rank(a) - rank(b));
  }
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judgeSequence } from '../../src/recon/me-db/engine-sequence.js';
import { reconLimits } from '../../src/recon/limits.js';

const fresh = { engineSeq: 0, appliedThroughSeq: 0, seenThroughStreamSeq: Number.POSITIVE_INFINITY };

describe('judging the engine sequence', () => {
  it('applies a strictly increasing feed, whatever its gaps (within the limit)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1e12 }), fc.array(fc.integer({ min: 1, max: reconLimits.engineSeqJumpMax }), { maxLength: 50 }), (first, gaps) => {
      let at = { ...fresh };
      let seq = first;
      let streamSeq = 1;
      for (const gap of [0, ...gaps]) {
        seq += gap;
        if (gap === 0 && at.engineSeq > 0) continue;
        expect(judgeSequence(seq, streamSeq++, at)).toEqual({ verdict: 'apply' });
        at = { ...at, engineSeq: seq };
      }
    }));
  });

  it('a redelivery after a restart is seen; the same seq past the checkpoint\'s stream position is a regression', () => {
    const restored = { engineSeq: 500, appliedThroughSeq: 500, seenThroughStreamSeq: 40 };
    expect(judgeSequence(480, 35, restored)).toEqual({ verdict: 'seen' });
    expect(judgeSequence(480, 41, restored)).toMatchObject({ verdict: 'fault', kind: 'sequence_regression' });
    expect(judgeSequence(501, 41, restored)).toEqual({ verdict: 'apply' });
    // Seeded from a snapshot (stream position unknown): everything at or below its seq is in it.
    expect(judgeSequence(480, 9_999, { ...restored, seenThroughStreamSeq: Number.POSITIVE_INFINITY })).toEqual({ verdict: 'seen' });
  });

  it('goes back between the restart point and the last applied: a regression', () => {
    expect(judgeSequence(600, 90, { engineSeq: 700, appliedThroughSeq: 500, seenThroughStreamSeq: 40 })).toMatchObject({ verdict: 'fault', kind: 'sequence_regression' });
  });

  it('an implausible jump is a fault, the first event of a feed is not (however large), the end of the number space always is', () => {
    expect(judgeSequence(100 + reconLimits.engineSeqJumpMax + 1, 2, { ...fresh, engineSeq: 100 })).toMatchObject({ verdict: 'fault', kind: 'sequence_jump' });
    expect(judgeSequence(100 + reconLimits.engineSeqJumpMax, 2, { ...fresh, engineSeq: 100 })).toEqual({ verdict: 'apply' });
    expect(judgeSequence(5_000_000_000_000, 1, fresh)).toEqual({ verdict: 'apply' });
    expect(judgeSequence(Number.MAX_SAFE_INTEGER, 1, fresh)).toMatchObject({ verdict: 'fault', kind: 'sequence_jump' });
  });
});

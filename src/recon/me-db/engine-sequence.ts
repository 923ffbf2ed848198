import { breakKinds } from '../breaks/break-kinds.js';
import { reconLimits } from '../limits.js';

/** Beyond this the engine's sequence is implausible whatever came before (it would be near exhaustion). */
const plausibleSeqMax = Math.floor(Number.MAX_SAFE_INTEGER / 2);

export type SequenceVerdict =
  | { verdict: 'apply' }
  /** Applied before (a redelivery after a restart, or inside the snapshot): acked, not applied again. */
  | { verdict: 'seen' }
  | { verdict: 'fault'; kind: typeof breakKinds.sequenceRegression | typeof breakKinds.sequenceJump; reason: string };

/**
 * Where an engine event's `seq` stands against what the reconciler applied. The engine's
 * sequence is strictly increasing (DESIGN §6); one that goes back, or jumps further than any
 * engine could, is a fault of the feed: never applied, paged as a meta-break.
 */
export function judgeSequence(seq: number, engineSeq: number, appliedThroughSeq: number): SequenceVerdict {
  if (seq <= appliedThroughSeq) return { verdict: 'seen' };
  if (seq <= engineSeq) return { verdict: 'fault', kind: breakKinds.sequenceRegression, reason: `engine sequence went backwards: ${seq} after ${engineSeq}` };
  const jumpedTooFar = engineSeq > 0 && seq - engineSeq > reconLimits.engineSeqJumpMax;
  if (jumpedTooFar || seq > plausibleSeqMax) {
    return { verdict: 'fault', kind: breakKinds.sequenceJump, reason: `engine sequence jumped from ${engineSeq} to ${seq} (more than ${jumpedTooFar ? reconLimits.engineSeqJumpMax : `${plausibleSeqMax} in all`}); not applied` };
  }
  return { verdict: 'apply' };
}

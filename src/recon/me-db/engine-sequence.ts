import { breakKinds } from '../breaks/break-kinds.js';
import { reconLimits } from '../limits.js';

/** Beyond this the engine's sequence is implausible whatever came before (it would be near exhaustion). */
const plausibleSeqMax = Math.floor(Number.MAX_SAFE_INTEGER / 2);

export type SequenceVerdict =
  | { verdict: 'apply' }
  /** Applied before (a redelivery after a restart, or inside the snapshot): acked, not applied again. */
  | { verdict: 'seen' }
  | { verdict: 'fault'; kind: typeof breakKinds.sequenceRegression | typeof breakKinds.sequenceJump; reason: string };

/** Where the reconciler stands on the engine's feed. */
export interface EngineFeedPosition {
  /** The last engine seq applied. */
  engineSeq: number;
  /** Engine seqs up to this were applied before this process started (checkpoint) or are in the snapshot it was seeded from. */
  appliedThroughSeq: number;
  /**
   * The stream sequence the checkpoint covers: a message at or below it is a redelivery; past
   * it, an engine seq at or below `appliedThroughSeq` is the sequence going back. Infinity when
   * unknown (seeded from a snapshot, or an older checkpoint): every such message is a redelivery.
   */
  seenThroughStreamSeq: number;
}

/**
 * Where an engine event's `seq` (arriving at stream sequence `streamSeq`) stands against what
 * the reconciler applied. The engine's sequence is strictly increasing (docs/contract.md §7); one that
 * goes back, or jumps further than any engine could, is a fault of the feed: never applied,
 * paged as a meta-break.
 */
export function judgeSequence(seq: number, streamSeq: number, at: EngineFeedPosition): SequenceVerdict {
  const { engineSeq, appliedThroughSeq } = at;
  if (seq <= appliedThroughSeq && streamSeq <= at.seenThroughStreamSeq) return { verdict: 'seen' };
  if (seq <= engineSeq) return { verdict: 'fault', kind: breakKinds.sequenceRegression, reason: `engine sequence went backwards: ${seq} after ${engineSeq}` };
  const jumpedTooFar = engineSeq > 0 && seq - engineSeq > reconLimits.engineSeqJumpMax;
  if (jumpedTooFar || seq > plausibleSeqMax) {
    return { verdict: 'fault', kind: breakKinds.sequenceJump, reason: `engine sequence jumped from ${engineSeq} to ${seq} (more than ${jumpedTooFar ? reconLimits.engineSeqJumpMax : `${plausibleSeqMax} in all`}); not applied` };
  }
  return { verdict: 'apply' };
}

/** The key of the engine-sequence meta-breaks: one per boundary. */
export const sequenceKey = 'engine';

/** What a sequence fault's meta-break says: the fault, and how to re-baseline once the engine is right again. */
export const sequenceFaultDetail = (reason: string, adminPrefix: string): string =>
  `${reason}. Check the engine; when its sequence is right again, re-baseline from its snapshot: ` +
  `nats req ${adminPrefix}.recon.rebaseline '{"boundary":"me_db","actorId":"<you>","reason":"<why>"}'`;

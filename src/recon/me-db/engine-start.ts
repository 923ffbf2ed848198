import type { JetStreamManager, MsgRequest } from '@nats-io/jetstream';
import { parseBalanceEvent, userIdOfBalanceSubject } from '../../adapters/matching-engine/contract.js';

/**
 * The stream sequence of the first engine event past a snapshot's `asOfSeq`: where the
 * balance stream is followed from after a seed, so the events the snapshot already holds are
 * not delivered at all. The engine's seq increases along its stream (docs/contract.md §7), so
 * it is searched with one message get per step: galloping back from the end (1, 2, 4, … events
 * before it), then halving the last step. A snapshot is the engine's state now, so the first
 * event past it is near the end: the search costs about 2·log₂ of the events published since,
 * one get when there are none (a plain binary search took log₂ of the whole stream, 18 sequential
 * gets at 200k events, and held a cold start's engine side for most of its read). Returns null
 * when a probe cannot be read as a balance event: the stream is then read from its start, as before.
 */
export async function streamSeqAfter(jsm: JetStreamManager, stream: string, filterSubject: string, asOfSeq: number): Promise<number | null> {
  const { state } = await jsm.streams.info(stream);
  if (state.messages === 0) return state.last_seq + 1;
  /** The first event at or after `seq` (null: none), with its engine seq. */
  const probe = async (seq: number): Promise<{ streamSeq: number; engineSeq: number } | null | 'unreadable'> => {
    // STREAM.MSG.GET takes next_by_subj with seq (a deleted or aged-out seq is skipped); the client's type omits it.
    const msg = await jsm.streams.getMessage(stream, { seq, next_by_subj: filterSubject } as unknown as MsgRequest);
    if (!msg) return null;
    const parsed = parseBalanceEvent(msg.data, { subjectUserId: userIdOfBalanceSubject(msg.subject) });
    return parsed.ok ? { streamSeq: msg.seq, engineSeq: parsed.event.seq } : 'unreadable';
  };
  // Invariant: the answer is in [lo, hi]. Gallop back from the end (steps doubling) until a probe
  // lands at or below asOfSeq, then halve what is left.
  let lo = state.first_seq;
  let hi = state.last_seq + 1;
  let step: number | null = 1;
  while (lo < hi) {
    const at = step === null ? Math.floor((lo + hi) / 2) : Math.max(lo, hi - step);
    const found = await probe(at);
    if (found === 'unreadable') return null;
    if (found === null || found.engineSeq > asOfSeq) {
      hi = at;
      if (step !== null) step *= 2;
    } else {
      lo = found.streamSeq + 1;
      step = null;
    }
  }
  return lo;
}

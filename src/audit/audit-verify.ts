import type { AccountEvent } from '../actors/account-event.js';
import { genesisHash, transitionHash, verifyChain, type AccountRecord, type TransitionRow } from '../actors/account-record.js';
import { replayTransitions } from '../fsm/index.js';

/** The first place where an account's three records (events, audit table, KV) part ways. */
export interface FirstDifference {
  /** The transition's sequence number in the account's history (1 = the signup). */
  seq: number;
  transitionId: string | null;
  /** In plain words: which record says what. */
  reason: string;
}

export interface AccountVerification {
  userId: string;
  events: number;
  rows: number;
  /** The first event the stream still holds (1 unless retention has dropped older ones). */
  replayableFromSeq: number;
  firstDifference: FirstDifference | null;
}

const comparedFields = ['transitionId', 'from', 'to', 'reasonCode', 'authority', 'actorId', 'commandId', 'hash'] as const;

/**
 * Compares an account's JetStream events (the replay source), its audit rows (hash chain
 * included) and its KV record, and names the lowest-numbered transition where they differ.
 * Events older than the stream's retention are not a difference: the comparison starts at
 * the first event the stream holds.
 */
export function verifyAccount(userId: string, events: readonly AccountEvent[], rows: readonly TransitionRow[], record: AccountRecord | null): AccountVerification {
  const differences: FirstDifference[] = [];
  const differ = (seq: number, transitionId: string | null, reason: string): void => {
    differences.push({ seq, transitionId, reason });
  };

  const chainBreak = verifyChain(rows);
  if (chainBreak) differ(chainBreak.seq, rows.find((r) => r.seq === chainBreak.seq)?.transitionId ?? null, `audit table: ${chainBreak.reason}`);

  const firstSeq = events[0]?.seq ?? 1;
  // The events chain by hash too: each one's hash covers the previous one's.
  let prevHash = firstSeq === 1 ? genesisHash : (rows.find((r) => r.seq === firstSeq)?.prevHash ?? null);
  for (const [index, event] of events.entries()) {
    if (event.seq !== firstSeq + index) {
      differ(firstSeq + index, null, `event stream: expected transition ${firstSeq + index}, found ${event.seq}`);
      break;
    }
    if (prevHash !== null) {
      const recomputed = transitionHash({ ...event, prevHash, atMs: Date.parse(event.at) });
      if (recomputed !== event.hash) {
        differ(event.seq, event.transitionId, 'event stream: the event\'s hash does not match its content');
        break;
      }
    }
    prevHash = event.hash;
  }

  const rowsBySeq = new Map(rows.map((r) => [r.seq, r]));
  for (const event of events) {
    const row = rowsBySeq.get(event.seq);
    if (!row) {
      differ(event.seq, event.transitionId, 'in the event stream but missing from the audit table');
      break;
    }
    const field = comparedFields.find((f) => row[f] !== event[f]);
    if (field) {
      differ(event.seq, event.transitionId, `audit table and event stream disagree on ${field} (audit: ${String(row[field])}, event: ${String(event[field])})`);
      break;
    }
    if (row.atMs !== Date.parse(event.at)) {
      differ(event.seq, event.transitionId, `audit table and event stream disagree on at (audit: ${new Date(row.atMs).toISOString()}, event: ${event.at})`);
      break;
    }
  }
  const lastEventSeq = events.at(-1)?.seq ?? 0;
  const extraRow = rows.find((r) => r.seq > lastEventSeq);
  if (extraRow) differ(extraRow.seq, extraRow.transitionId, 'in the audit table but missing from the event stream');

  if (firstSeq === 1 && events.length > 0) {
    try {
      replayTransitions(events.map((e) => ({ from: e.from, to: e.to, authority: e.authority, reasonCode: e.reasonCode, atMs: Date.parse(e.at) })));
    } catch (error) {
      const index = (error as { index?: number }).index ?? 0;
      differ(index + 1, events[index]?.transitionId ?? null, `event stream: ${(error as Error).message}`);
    }
  }

  const lastEvent = events.at(-1);
  if (!record && lastEvent) differ(lastEvent.seq, lastEvent.transitionId, 'KV: the account has no entry');
  if (record) {
    if (record.seq !== lastEventSeq) differ(Math.min(record.seq, lastEventSeq) + 1, null, `KV is at transition ${record.seq}, the event stream at ${lastEventSeq}`);
    else if (lastEvent && (record.state !== lastEvent.to || record.last.hash !== lastEvent.hash)) {
      differ(lastEvent.seq, lastEvent.transitionId, `KV says ${record.state} (hash ${record.last.hash.slice(0, 12)}…), the event stream ${lastEvent.to} (hash ${lastEvent.hash.slice(0, 12)}…)`);
    }
  }

  differences.sort((a, b) => a.seq - b.seq);
  return { userId, events: events.length, rows: rows.length, replayableFromSeq: firstSeq, firstDifference: differences[0] ?? null };
}

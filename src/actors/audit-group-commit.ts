import type { Pool } from '../db/pool.js';
import { limits } from '../config/limits.js';
import type { AccountCommand, CommandErrorCode } from './account-command.js';
import type { TransitionRow } from './account-record.js';
import { appendTransitions, findOutcomes, lastAuditedSeqs, recordRejections, type KnownOutcome, type Rejection } from './audit-log.js';
import { GroupCommit, type GroupCommitStats } from './group-commit.js';

/**
 * The audit log as every account actor of one engine sees it: each actor asks for one command
 * at a time, and the asks of all actors that arrive together share one statement (ADR 0019).
 * Each actor still waits for its own answer before its next effect, so the order of effects
 * of one command (KV → audit row → event → ack, ADR 0003) is unchanged.
 */
export class AuditLogGroupCommit {
  private readonly appends: GroupCommit<{ row: TransitionRow; kvRevision: number }, void>;
  private readonly outcomes: GroupCommit<string, KnownOutcome | null>;
  private readonly seqs: GroupCommit<string, number>;
  private readonly rejections: GroupCommit<Rejection, void>;

  constructor(pool: Pool, bounds: { rowsMax: number; flushesInFlightMax: number } = { rowsMax: limits.groupCommitRowsMax, flushesInFlightMax: limits.groupCommitFlushesInFlightMax }) {
    this.appends = new GroupCommit({ ...bounds, run: async (rows) => {
      await appendTransitions(pool, rows);
      return rows.map(() => undefined);
    } });
    this.outcomes = new GroupCommit({ ...bounds, run: async (ids) => {
      const known = await findOutcomes(pool, [...new Set(ids)]);
      return ids.map((id) => known.get(id) ?? null);
    } });
    this.seqs = new GroupCommit({ ...bounds, run: async (userIds) => {
      const seqs = await lastAuditedSeqs(pool, [...new Set(userIds)]);
      return userIds.map((id) => seqs.get(id) ?? 0);
    } });
    this.rejections = new GroupCommit({ ...bounds, run: async (items) => {
      await recordRejections(pool, items);
      return items.map(() => undefined);
    } });
  }

  /** Resolves once the row is committed (a row whose command id is already there is a no-op). */
  append(row: TransitionRow, kvRevision: number): Promise<void> {
    return this.appends.submit({ row, kvRevision });
  }

  /** The outcome already given to this command id, if any. */
  outcomeOf(commandId: string): Promise<KnownOutcome | null> {
    return this.outcomes.submit(commandId);
  }

  lastAuditedSeq(userId: string): Promise<number> {
    return this.seqs.submit(userId);
  }

  recordRejection(command: AccountCommand, code: CommandErrorCode, message: string, reason?: string): Promise<void> {
    return this.rejections.submit({ command, code, message, ...(reason ? { reason } : {}) });
  }

  stats(): Record<'appends' | 'outcomes' | 'seqs' | 'rejections', GroupCommitStats> {
    return { appends: this.appends.stats(), outcomes: this.outcomes.stats(), seqs: this.seqs.stats(), rejections: this.rejections.stats() };
  }
}

import { randomUUID } from 'node:crypto';
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Pool } from '../db/pool.js';
import { decideTransition, eventNameFor } from '../fsm/index.js';
import type { NatsNames } from '../nats/names.js';
import type { AccountCommand, CommandOutcome } from './account-command.js';
import { accountRecordSchema, genesisHash, newTransitionRow, type AccountRecord, type TransitionRow } from './account-record.js';
import { accountEventOf } from './account-event.js';
import { balancesAllZero } from './audit-log.js';
import type { AuditLogGroupCommit } from './audit-group-commit.js';
import type { KnownOutcome } from './audit-log.js';

export interface AccountActorDeps {
  pool: Pool;
  /** The audit log, group-committed across the engine's actors (ADR 0019). */
  audit: AuditLogGroupCommit;
  accounts: KV;
  js: JetStreamClient;
  names: NatsNames;
  coolingOffMs: number;
  nowMs: () => number;
}

/** JetStream's answer to a compare-and-set on "no entry" when the key has one. */
const keyExistsCodes = new Set<number>([JetStreamApiCodes.StreamWrongLastSequence, JetStreamApiCodes.StreamWrongLastSequenceUnknown]);

function recordAfter(row: TransitionRow, next: { state: AccountRecord['state']; closureRequestedAt: AccountRecord['closureRequestedAt'] }): AccountRecord {
  return { userId: row.userId, state: next.state, closureRequestedAt: next.closureRequestedAt, seq: row.seq, last: row };
}

interface Loaded {
  record: AccountRecord | null;
  /** KV revision of `record`; 0 when the key has never been written. */
  revision: number;
}

/**
 * One account. Owns its KV entry (compare-and-set by revision), its audit rows and its
 * events; handles one command at a time (its mailbox guarantees that).
 *
 * Order of effects for an accepted transition: KV (the state, carrying the new audit row)
 * → Postgres audit row → event (Nats-Msg-Id = transitionId) → outcome. A crash at any
 * point leaves the command unacked; its redelivery finds the outcome (or the KV ahead of
 * Postgres), repairs what is missing and answers the same. Nothing is applied twice.
 */
export class AccountActor {
  private loaded: Loaded | null = null;

  constructor(
    readonly userId: string,
    private readonly deps: AccountActorDeps,
  ) {}

  async handle(command: AccountCommand): Promise<CommandOutcome> {
    if (!this.loaded && command.kind === 'create') {
      const created = await this.createUnloaded(command);
      if (created) return created;
      // The key exists (or the FSM refuses the target): the ordinary path loads, repairs and answers.
    }
    let state: Loaded;
    let known: KnownOutcome | null;
    if (this.loaded) {
      state = this.loaded;
      known = await this.deps.audit.outcomeOf(command.commandId);
    } else {
      // First command of this incarnation: the load and the outcome lookup go out together. The
      // lookup only counts if the load repaired nothing: a repaired row may be this very command's.
      const [load, early] = await Promise.all([this.load(), this.deps.audit.outcomeOf(command.commandId)]);
      state = load.loaded;
      known = load.repaired ? await this.deps.audit.outcomeOf(command.commandId) : early;
    }
    if (known) return this.answerAgain(known);

    const current = state.record;
    if (command.kind === 'create' && current !== null) {
      return this.reject(command, 'CONFLICT', `account ${command.userId} already exists`);
    }
    if (command.kind === 'transition' && current === null) {
      return this.reject(command, 'NOT_FOUND', `account ${command.userId} does not exist`);
    }

    const nowMs = this.deps.nowMs();
    const balancesZero = command.target === 'closed' ? await balancesAllZero(this.deps.pool, command.userId) : true;
    const decision = this.decide(command, current, nowMs, balancesZero);
    if (!decision.ok) {
      return this.reject(command, 'FORBIDDEN_TRANSITION', decision.error.message, decision.error.reason);
    }

    const row = this.rowFor(command, decision, current, nowMs);
    const next = recordAfter(row, decision.next);
    const encoded = JSON.stringify(next);
    // CAS: a concurrent writer (another instance during a lease hand-over) makes this throw,
    // the supervisor restarts the actor, and the retry reloads the newer state.
    const revision = state.revision === 0
      ? await this.deps.accounts.create(command.userId, encoded)
      : await this.deps.accounts.update(command.userId, encoded, state.revision);
    return this.afterKvWrite(row, next, revision);
  }

  /**
   * A signup for an account this incarnation has not loaded: the compare-and-set on "no entry"
   * is the existence check, so the KV read and the audited-seq lookup of a load are skipped (two of
   * a cold signup's six I/Os). Null, with no effect made, when the key has an entry (an existing
   * account, or one a crash left written in KV but not audited: the load repairs that) or when the
   * FSM refuses the target; the caller then takes the ordinary path.
   */
  private async createUnloaded(command: AccountCommand): Promise<CommandOutcome | null> {
    const known = await this.deps.audit.outcomeOf(command.commandId);
    if (known) return this.answerAgain(known);
    const nowMs = this.deps.nowMs();
    const decision = this.decide(command, null, nowMs, true);
    if (!decision.ok) return null;
    const row = this.rowFor(command, decision, null, nowMs);
    const next = recordAfter(row, decision.next);
    let revision: number;
    try {
      // Also succeeds over a deleted entry (kv.create updates on its revision), as the load path does.
      revision = await this.deps.accounts.create(command.userId, JSON.stringify(next));
    } catch (error) {
      if (error instanceof JetStreamApiError && keyExistsCodes.has(error.code)) return null;
      throw error;
    }
    return this.afterKvWrite(row, next, revision);
  }

  /** A redelivery or repeat: make sure the event went out, then answer as before. */
  private async answerAgain(known: KnownOutcome): Promise<CommandOutcome> {
    if (known.transition) await this.publishEvent(known.transition);
    return known.outcome;
  }

  private decide(command: AccountCommand, current: AccountRecord | null, nowMs: number, balancesZero: boolean): ReturnType<typeof decideTransition> {
    return decideTransition(current === null ? null : { state: current.state, closureRequestedAt: current.closureRequestedAt }, {
      target: command.target,
      authority: command.authority,
      reasonCode: command.reasonCode,
      nowMs,
      balancesZero,
      coolingOffMs: this.deps.coolingOffMs,
    });
  }

  /** The rest of an accepted transition once its KV write landed (ADR 0003): audit row → event → outcome. */
  private async afterKvWrite(row: TransitionRow, next: AccountRecord, revision: number): Promise<CommandOutcome> {
    this.loaded = { record: next, revision };
    await this.deps.audit.append(row, revision);
    await this.publishEvent(row);
    return { ok: true, userId: row.userId, from: row.from, to: row.to, revision, transitionId: row.transitionId };
  }

  private rowFor(command: AccountCommand, decision: { from: TransitionRow['from']; to: TransitionRow['to'] }, current: AccountRecord | null, nowMs: number): TransitionRow {
    return newTransitionRow({
      transitionId: randomUUID(),
      userId: command.userId,
      seq: (current?.seq ?? 0) + 1,
      commandId: command.commandId,
      from: decision.from,
      to: decision.to,
      reasonCode: command.reasonCode,
      authority: command.authority,
      actorId: command.actorId,
      atMs: nowMs,
      prevHash: current?.last.hash ?? genesisHash,
    });
  }

  /**
   * Reads the KV entry once per incarnation, and repairs an audit row a crash left unwritten. The
   * KV read and the audited seq are read together: a row written between the two reads can only
   * make the repair a no-op (same command id) or make the KV write fail its compare-and-set.
   */
  private async load(): Promise<{ loaded: Loaded; repaired: boolean }> {
    const [entry, auditedSeq] = await Promise.all([this.deps.accounts.get(this.userId), this.deps.audit.lastAuditedSeq(this.userId)]);
    let loaded: Loaded;
    let repaired = false;
    if (entry === null || entry.operation !== 'PUT') {
      loaded = { record: null, revision: entry?.revision ?? 0 };
    } else {
      const record = accountRecordSchema.parse(entry.json());
      loaded = { record, revision: entry.revision };
      if (auditedSeq < record.seq) {
        // The process died after the KV write and before the audit insert.
        await this.deps.audit.append(record.last, entry.revision);
        await this.publishEvent(record.last);
        repaired = true;
      }
    }
    this.loaded = loaded;
    return { loaded, repaired };
  }

  private async reject(
    command: AccountCommand,
    code: 'CONFLICT' | 'NOT_FOUND' | 'FORBIDDEN_TRANSITION',
    message: string,
    reason?: string,
  ): Promise<CommandOutcome> {
    await this.deps.audit.recordRejection(command, code, message, reason);
    return { ok: false, userId: command.userId, error: { code, message, ...(reason ? { reason } : {}) } };
  }

  /** Idempotent: the stream drops a second copy with the same Nats-Msg-Id inside its dedup window. */
  private async publishEvent(row: TransitionRow): Promise<void> {
    const subject = this.deps.names.accountEventSubject(eventNameFor(row.from, row.to), row.userId);
    await this.deps.js.publish(subject, JSON.stringify(accountEventOf(row)), { msgID: row.transitionId });
  }
}

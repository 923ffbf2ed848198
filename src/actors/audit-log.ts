import type { Pool } from '../db/pool.js';
import type { AccountState } from '../fsm/index.js';
import type { AccountCommand, CommandErrorCode, CommandOutcome } from './account-command.js';
import { transitionRowSchema, type TransitionRow } from './account-record.js';

/** Postgres side of the account lifecycle: the append-only audit table and the record of rejected commands. */

export interface AuditedTransition extends TransitionRow { kvRevision: number }

interface TransitionDbRow {
  transition_id: string;
  user_id: string;
  seq: number;
  command_id: string;
  from_state: string | null;
  to_state: string;
  reason_code: string;
  authority: string;
  actor_id: string;
  at: Date;
  prev_hash: string;
  hash: string;
  kv_revision: string;
}

const transitionColumns =
  'transition_id, user_id, seq, command_id, from_state, to_state, reason_code, authority, actor_id, at, prev_hash, hash, kv_revision';

function fromDb(row: TransitionDbRow): AuditedTransition {
  const parsed = transitionRowSchema.parse({
    transitionId: row.transition_id,
    userId: row.user_id,
    seq: row.seq,
    commandId: row.command_id,
    from: row.from_state,
    to: row.to_state,
    reasonCode: row.reason_code,
    authority: row.authority,
    actorId: row.actor_id,
    atMs: row.at.getTime(),
    prevHash: row.prev_hash,
    hash: row.hash,
  });
  return { ...parsed, kvRevision: Number(row.kv_revision) };
}

/** Writes the audit row; a second write of the same command is a no-op (unique command_id). */
export async function appendTransition(pool: Pool, row: TransitionRow, kvRevision: number): Promise<void> {
  await pool.query(
    `INSERT INTO account_state_transitions (${transitionColumns})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (command_id) DO NOTHING`,
    [row.transitionId, row.userId, row.seq, row.commandId, row.from, row.to, row.reasonCode, row.authority, row.actorId,
      new Date(row.atMs), row.prevHash, row.hash, kvRevision],
  );
}

export async function lastAuditedSeq(pool: Pool, userId: string): Promise<number> {
  const result = await pool.query<{ seq: number | null }>(
    'SELECT max(seq) AS seq FROM account_state_transitions WHERE user_id = $1', [userId]);
  return result.rows[0]?.seq ?? 0;
}

export async function accountHistory(pool: Pool, userId: string): Promise<AuditedTransition[]> {
  const result = await pool.query<TransitionDbRow>(
    `SELECT ${transitionColumns} FROM account_state_transitions WHERE user_id = $1 ORDER BY seq`, [userId]);
  return result.rows.map(fromDb);
}

export async function recordRejection(pool: Pool, command: AccountCommand, code: CommandErrorCode, message: string, reason?: string): Promise<void> {
  await pool.query(
    `INSERT INTO account_command_rejections
       (command_id, user_id, kind, target, authority, reason_code, actor_id, error_code, error_reason, message)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (command_id) DO NOTHING`,
    [command.commandId, command.userId, command.kind, command.target, command.authority, command.reasonCode,
      command.actorId, code, reason ?? null, message],
  );
}

export async function transitionByCommand(pool: Pool, commandId: string): Promise<AuditedTransition | null> {
  const accepted = await pool.query<TransitionDbRow>(
    `SELECT ${transitionColumns} FROM account_state_transitions WHERE command_id = $1`, [commandId]);
  const row = accepted.rows[0];
  return row ? fromDb(row) : null;
}

/** The answer already given to a command id, if any: an accepted transition or a recorded rejection. */
export async function findOutcome(pool: Pool, commandId: string): Promise<CommandOutcome | null> {
  const t = await transitionByCommand(pool, commandId);
  if (t) return { ok: true, userId: t.userId, from: t.from, to: t.to, revision: t.kvRevision, transitionId: t.transitionId };
  const rejected = await pool.query<{ user_id: string; error_code: CommandErrorCode; error_reason: string | null; message: string }>(
    'SELECT user_id, error_code, error_reason, message FROM account_command_rejections WHERE command_id = $1', [commandId]);
  const rejection = rejected.rows[0];
  if (!rejection) return null;
  return {
    ok: false,
    userId: rejection.user_id,
    error: { code: rejection.error_code, message: rejection.message, ...(rejection.error_reason ? { reason: rejection.error_reason } : {}) },
  };
}

/** True when every currency balance of the user in ledger_entries is exactly zero. */
export async function balancesAllZero(pool: Pool, userId: string): Promise<boolean> {
  const result = await pool.query(
    'SELECT 1 FROM ledger_entries WHERE user_id = $1 GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1', [userId]);
  return result.rowCount === 0;
}

export type { AccountState };

// ─── Set-based forms, one statement for many commands (the group commit, ADR 0019) ───────────
// Each is a named prepared statement: its text is the same whatever the batch size (arrays, not
// a row of placeholders per item), so each pool connection parses and plans it once (ADR 0032).

/** Writes many audit rows in one statement; rows already written (same command_id) are skipped. */
export async function appendTransitions(pool: Pool, rows: ReadonlyArray<{ row: TransitionRow; kvRevision: number }>): Promise<void> {
  if (rows.length === 0) return;
  const column = <T>(pick: (r: { row: TransitionRow; kvRevision: number }) => T): T[] => rows.map(pick);
  await pool.query({
    name: 'account-audit-append',
    text: `INSERT INTO account_state_transitions (${transitionColumns})
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                          $10::timestamptz[], $11::text[], $12::text[], $13::bigint[])
     ON CONFLICT (command_id) DO NOTHING`,
    values: [column((r) => r.row.transitionId), column((r) => r.row.userId), column((r) => r.row.seq), column((r) => r.row.commandId),
      column((r) => r.row.from), column((r) => r.row.to), column((r) => r.row.reasonCode), column((r) => r.row.authority),
      column((r) => r.row.actorId), column((r) => new Date(r.row.atMs).toISOString()), column((r) => r.row.prevHash),
      column((r) => r.row.hash), column((r) => String(r.kvRevision))],
  });
}

/** The highest audited seq of each user (absent: none). */
export async function lastAuditedSeqs(pool: Pool, userIds: readonly string[]): Promise<Map<string, number>> {
  const result = await pool.query<{ user_id: string; seq: number }>({
    name: 'account-audit-last-seqs',
    text: 'SELECT user_id, max(seq) AS seq FROM account_state_transitions WHERE user_id = ANY($1::text[]) GROUP BY user_id',
    values: [userIds],
  });
  return new Map(result.rows.map((r) => [r.user_id, r.seq]));
}

export interface KnownOutcome {
  outcome: CommandOutcome;
  /** The audit row, when the command was accepted (its event may need publishing again). */
  transition: AuditedTransition | null;
}

/** The outcomes already given to any of these command ids, in one statement. */
export async function findOutcomes(pool: Pool, commandIds: readonly string[]): Promise<Map<string, KnownOutcome>> {
  const result = await pool.query<TransitionDbRow & { command_id: string; error_code: CommandErrorCode | null; error_reason: string | null; message: string | null }>({
    name: 'account-outcomes-find',
    text: `SELECT ${transitionColumns}, NULL::text AS error_code, NULL::text AS error_reason, NULL::text AS message
       FROM account_state_transitions WHERE command_id = ANY($1::text[])
     UNION ALL
     SELECT NULL::uuid, user_id, NULL::int, command_id, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz,
            NULL::text, NULL::text, NULL::bigint, error_code, error_reason, message
       FROM account_command_rejections WHERE command_id = ANY($1::text[])`,
    values: [commandIds],
  });
  const known = new Map<string, KnownOutcome>();
  for (const r of result.rows) {
    if (r.transition_id !== null) {
      const t = fromDb(r);
      known.set(r.command_id, { outcome: { ok: true, userId: t.userId, from: t.from, to: t.to, revision: t.kvRevision, transitionId: t.transitionId }, transition: t });
    } else if (!known.has(r.command_id) && r.error_code !== null) {
      // An accepted transition wins over a rejection of the same id (the transition is what happened).
      known.set(r.command_id, {
        outcome: { ok: false, userId: r.user_id, error: { code: r.error_code, message: r.message ?? '', ...(r.error_reason ? { reason: r.error_reason } : {}) } },
        transition: null,
      });
    }
  }
  return known;
}

export interface Rejection { command: AccountCommand; code: CommandErrorCode; message: string; reason?: string }

export async function recordRejections(pool: Pool, rejections: readonly Rejection[]): Promise<void> {
  if (rejections.length === 0) return;
  const column = <T>(pick: (r: Rejection) => T): T[] => rejections.map(pick);
  await pool.query({
    name: 'account-rejections-record',
    text: `INSERT INTO account_command_rejections
       (command_id, user_id, kind, target, authority, reason_code, actor_id, error_code, error_reason, message)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
     ON CONFLICT (command_id) DO NOTHING`,
    values: [column((r) => r.command.commandId), column((r) => r.command.userId), column((r) => r.command.kind), column((r) => r.command.target),
      column((r) => r.command.authority), column((r) => r.command.reasonCode), column((r) => r.command.actorId), column((r) => r.code),
      column((r) => r.reason ?? null), column((r) => r.message)],
  });
}

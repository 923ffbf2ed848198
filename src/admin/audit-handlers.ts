import type { JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import { accountRecordSchema, type AccountRecord } from '../actors/account-record.js';
import { accountHistory } from '../actors/audit-log.js';
import { userIdSchema } from '../actors/identifiers.js';
import { verifyAccount } from '../audit/audit-verify.js';
import { readAccountEvents } from '../audit/event-replay.js';
import type { Pool } from '../db/pool.js';
import type { NatsNames } from '../nats/names.js';
import { parseRequest } from './requests.js';

export interface AuditHandlerDeps {
  js: JetStreamClient;
  accounts: KV;
  pool: Pool;
  names: NatsNames;
}

/** One page of `admin.audit.verify`: accounts after `after` (by id), at most `limit`. */
export const auditVerifyRequest = z.object({
  after: userIdSchema.optional(),
  limit: z.number().int().min(1).max(1_000).default(200),
});

async function readRecord(accounts: KV, userId: string): Promise<AccountRecord | null> {
  const entry = await accounts.get(userId);
  if (entry === null || entry.operation !== 'PUT') return null;
  return accountRecordSchema.parse(entry.json());
}

/** The next `limit` audited accounts after `after`, by id (the (user_id, seq) index serves it). */
async function auditedPage(pool: Pool, after: string | undefined, limit: number): Promise<string[]> {
  const result = await pool.query<{ user_id: string }>(
    'SELECT DISTINCT user_id FROM account_state_transitions WHERE ($1::text IS NULL OR user_id > $1) ORDER BY user_id LIMIT $2',
    [after ?? null, limit],
  );
  return result.rows.map((r) => r.user_id);
}

/** Accounts with a KV entry and no audit row at all: a difference of its own, checked on the first page. */
async function kvOnlyAccounts(deps: AuditHandlerDeps): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of await deps.accounts.keys()) keys.push(key);
  if (keys.length === 0) return [];
  const result = await deps.pool.query<{ user_id: string }>(
    `SELECT k.user_id FROM unnest($1::text[]) AS k(user_id)
      WHERE NOT EXISTS (SELECT 1 FROM account_state_transitions t WHERE t.user_id = k.user_id) ORDER BY k.user_id`,
    [keys],
  );
  return result.rows.map((r) => r.user_id);
}

/**
 * `admin.audit.verify`: replays accounts from the event stream and compares each with KV and
 * the audit table (hash chain included), a page at a time so a client can show progress and
 * no request holds the whole account space.
 */
export function auditHandlers(deps: AuditHandlerDeps) {
  return {
    async verify(body: unknown) {
      const req = parseRequest(auditVerifyRequest, body);
      // Audited accounts page by id; the few with a KV entry but no audit row ride on the first page.
      const audited = await auditedPage(deps.pool, req.after, req.limit);
      const extra = req.after === undefined ? await kvOnlyAccounts(deps) : [];
      const counted = await deps.pool.query<{ n: string }>('SELECT count(DISTINCT user_id) AS n FROM account_state_transitions');
      const results = [];
      for (const userId of [...audited, ...extra]) {
        const [events, rows, record] = await Promise.all([
          readAccountEvents(deps.js, deps.names, userId),
          accountHistory(deps.pool, userId),
          readRecord(deps.accounts, userId),
        ]);
        results.push(verifyAccount(userId, events, rows, record));
      }
      const mismatched = results.filter((r) => r.firstDifference !== null).map((r) => ({ userId: r.userId, firstDifference: r.firstDifference }));
      return {
        accounts: results.length,
        matching: results.length - mismatched.length,
        mismatched,
        total: Number(counted.rows[0]?.n ?? 0) + extra.length,
        next: audited.length === req.limit ? audited.at(-1)! : null,
      };
    },
  };
}

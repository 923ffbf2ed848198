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

/** Every account the engine knows of: a KV entry or an audit row (either alone is itself a difference). */
async function accountIds(deps: AuditHandlerDeps): Promise<string[]> {
  const ids = new Set<string>();
  for await (const key of await deps.accounts.keys()) ids.add(key);
  const audited = await deps.pool.query<{ user_id: string }>('SELECT DISTINCT user_id FROM account_state_transitions');
  for (const row of audited.rows) ids.add(row.user_id);
  return [...ids].sort();
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
      const all = await accountIds(deps);
      const start = req.after === undefined ? 0 : all.findIndex((id) => id > req.after!);
      const page = start < 0 ? [] : all.slice(start, start + req.limit);
      const results = [];
      for (const userId of page) {
        const [events, rows, record] = await Promise.all([
          readAccountEvents(deps.js, deps.names, userId),
          accountHistory(deps.pool, userId),
          readRecord(deps.accounts, userId),
        ]);
        results.push(verifyAccount(userId, events, rows, record));
      }
      const mismatched = results.filter((r) => r.firstDifference !== null).map((r) => ({ userId: r.userId, firstDifference: r.firstDifference }));
      const last = page.at(-1);
      const remaining = start < 0 ? 0 : all.length - (start + page.length);
      return {
        accounts: page.length,
        matching: page.length - mismatched.length,
        mismatched,
        total: all.length,
        next: remaining > 0 && last ? last : null,
      };
    },
  };
}

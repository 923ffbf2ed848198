import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { accountRecordSchema } from '../actors/account-record.js';
import type { AccountCommandClient } from '../actors/command-client.js';
import { parseComplianceEvent, type ComplianceEvent } from '../adapters/compliance/contract.js';
import { sendCancelOrders } from '../adapters/matching-engine/engine-commands.js';
import type { AccountState } from '../fsm/index.js';
import type { Pool } from '../db/pool.js';
import { defaultDurableIntakeLimits, startDurableIntake } from '../nats/durable-intake.js';
import type { ServiceContext } from '../runtime/service-context.js';

/** The reason code a re-KYC suspension carries; only such a suspension is lifted by a KYC re-verification (ADR 0023). */
export const kycReverificationReason = 'kyc_reverification_required';

export type ComplianceOutcome = 'applied' | 'already' | 'refused' | 'unknown_account' | 'error';

export interface ComplianceDeps extends Omit<ServiceContext, 'nc'> {
  accounts: KV;
  commands: AccountCommandClient;
}

/** One id per provider event: the account command id and the key of its row, so a redelivery changes nothing. */
export function complianceEventKey(event: ComplianceEvent): string {
  const digest = createHash('sha256').update(`${event.kind}\u0000${event.userId}\u0000${event.reference}\u0000${event.tsMs}`).digest('hex').slice(0, 32);
  return `compliance:${event.kind}:${digest}`;
}

async function lastTransition(pool: Pool, userId: string): Promise<{ to: string; reasonCode: string } | null> {
  const r = await pool.query<{ to_state: string; reason_code: string }>(
    'SELECT to_state, reason_code FROM account_state_transitions WHERE user_id = $1 ORDER BY seq DESC LIMIT 1', [userId]);
  const row = r.rows[0];
  return row ? { to: row.to_state, reasonCode: row.reason_code } : null;
}

async function record(pool: Pool, key: string, event: ComplianceEvent, outcome: ComplianceOutcome, from: string | null, to: string | null, detail: string): Promise<void> {
  await pool.query(
    `INSERT INTO compliance_events (event_key, kind, user_id, list, reference, ts, outcome, from_state, to_state, detail, command_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $1) ON CONFLICT (event_key) DO NOTHING`,
    [key, event.kind, event.userId, event.kind === 'sanctions_hit' ? event.list : null, event.reference, new Date(event.tsMs).toISOString(), outcome, from, to, detail]);
}

/**
 * Acts on one provider event (docs/contract.md): a sanctions hit moves the account to
 * SANCTIONS_ACTION (authority system) and cancels its open orders on the matching engine; a KYC
 * re-verification reactivates an account suspended for re-KYC and nothing else (a suspension for
 * sanctions, a recon freeze or a dispute is refused and listed for a person). The outcome is
 * recorded in compliance_events, which steps 9 and 10 of the close list.
 */
export async function actOnComplianceEvent(deps: ComplianceDeps, event: ComplianceEvent): Promise<{ outcome: ComplianceOutcome; detail: string }> {
  const key = complianceEventKey(event);
  const seen = await deps.pool.query<{ outcome: ComplianceOutcome; detail: string }>('SELECT outcome, detail FROM compliance_events WHERE event_key = $1', [key]);
  if (seen.rows[0]) return seen.rows[0];
  const entry = await deps.accounts.get(event.userId);
  if (entry === null || entry.operation !== 'PUT') {
    const detail = `account ${event.userId} does not exist`;
    await record(deps.pool, key, event, 'unknown_account', null, null, detail);
    return { outcome: 'unknown_account', detail };
  }
  const state = accountRecordSchema.parse(entry.json()).state;
  let target: AccountState;
  let reasonCode: string;
  if (event.kind === 'sanctions_hit') {
    target = deps.settings.SANCTIONS_ACTION;
    reasonCode = 'sanctions_hit';
    // Whatever the account's state, its open orders go: an order book must not trade for a listed person.
    await sendCancelOrders(deps.js, deps.names, { commandId: `${key}:cancel`, userId: event.userId, reason: `sanctions hit on ${event.list} (${event.reference})` });
  } else {
    target = 'active';
    reasonCode = 'kyc_reverified';
    const last = await lastTransition(deps.pool, event.userId);
    if (state !== 'suspended' || last?.reasonCode !== kycReverificationReason) {
      const why = state !== 'suspended' ? `the account is ${state}, not suspended` : `the account is suspended for "${last?.reasonCode ?? 'unknown'}", not for ${kycReverificationReason}`;
      const detail = `not reactivated: ${why}; a person decides`;
      await record(deps.pool, key, event, 'refused', state, null, detail);
      return { outcome: 'refused', detail };
    }
  }
  if (state === target) {
    // A redelivery after the transition committed but before its row here: the transition is ours.
    const ours = await deps.pool.query<{ from_state: string | null }>('SELECT from_state FROM account_state_transitions WHERE command_id = $1', [key]);
    if (ours.rows[0]) {
      const detail = `${ours.rows[0].from_state ?? 'new'} → ${state}`;
      await record(deps.pool, key, event, 'applied', ours.rows[0].from_state, state, detail);
      return { outcome: 'applied', detail };
    }
    const detail = `already ${state}`;
    await record(deps.pool, key, event, 'already', state, state, detail);
    return { outcome: 'already', detail };
  }
  const reply = await deps.commands.send({ kind: 'transition', userId: event.userId, target, authority: 'system', reasonCode, actorId: `compliance:${event.kind}`, commandId: key });
  if (reply.ok) {
    const detail = `${reply.from ?? 'new'} → ${reply.to}`;
    await record(deps.pool, key, event, 'applied', reply.from, reply.to, detail);
    return { outcome: 'applied', detail };
  }
  if (reply.error.code === 'INTERNAL') throw new Error(reply.error.message); // retried, then parked
  const detail = `${reply.error.code}: ${reply.error.message}`;
  await record(deps.pool, key, event, 'refused', state, null, detail);
  return { outcome: 'refused', detail };
}

export function startComplianceIntake(deps: ComplianceDeps) {
  const { names } = deps;
  return startDurableIntake(deps, { stream: names.complianceStream, consumer: names.complianceConsumer, filterSubject: names.complianceSubjectAll, ...defaultDurableIntakeLimits }, async (msg) => {
    const parsed = parseComplianceEvent(msg.subject, msg.data);
    if (!parsed.ok) return { done: false, parkReason: parsed.reason };
    const { outcome, detail } = await actOnComplianceEvent(deps, parsed.event);
    deps.log.info({ event: `compliance.${parsed.event.kind}`, userId: parsed.event.userId, outcome, detail }, `compliance ${parsed.event.kind}: ${outcome}`);
    return { done: true };
  });
}

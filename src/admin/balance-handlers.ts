import type { JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { accountRecordSchema } from '../actors/account-record.js';
import { minorToDecimal, signedDecimalToMinor } from '../config/decimal.js';
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/transaction.js';
import type { AccountState } from '../fsm/index.js';
import type { NatsNames } from '../nats/names.js';
import { adjustBalanceEffect, publishEngineCommandNow, recordEngineCommands } from '../recon/engine-command-outbox.js';
import type { Logger } from '../observability/logger.js';
import { AdminError } from './errors.js';
import { balanceAdjustRequest, parseRequest } from './requests.js';

/** The house account on the other side of every adjustment (docs/contract.md). */
export const houseAdjustments = 'house:adjustments';

/**
 * States an adjustment may be posted in (ADR 0023): an account that holds or may hold funds,
 * frozen ones included (a correction is often why it is frozen). Never before KYC approval
 * (it can hold nothing), never once closed or banned (terminal).
 */
export const adjustableStates: readonly AccountState[] = ['kyc_approved', 'active', 'suspended', 'restricted'];

const scale = 18;

/**
 * `admin.balance.adjust` (docs/contract.md): one balanced journal, the user's leg and house:adjustments
 * the opposite, `reference_type='admin_adjustment'`, `reference_id` the idempotency key, reason and
 * actor in admin_adjustments. The same key and content answers the same entryId; the same key with
 * other content is CONFLICT. Then `me.cmd.adjust_balance.<userId>` so the engine's books follow.
 */
export function balanceHandlers(deps: { pool: Pool; accounts: KV; js: JetStreamClient; names: NatsNames; log: Logger }) {
  return {
    async adjust(body: unknown) {
      const req = parseRequest(balanceAdjustRequest, body);
      const amountMinor = signedDecimalToMinor(req.amount, scale);
      const entryId = `admin_adjustment:${req.idempotencyKey}`;
      const engineCredit = adjustBalanceEffect(deps.names, { commandId: entryId, userId: req.userId, currency: req.currency, amount: minorToDecimal(amountMinor, scale) }, new Date().toISOString());
      const entry = await deps.accounts.get(req.userId);
      const state = entry !== null && entry.operation === 'PUT' ? accountRecordSchema.parse(entry.json()).state : null;
      const outcome = await withTransaction(deps.pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`admin_adjustment:${req.idempotencyKey}`]);
        const existing = await client.query<{ entry_id: string; user_id: string; currency: string; amount: string; reason: string; actor_id: string }>(
          'SELECT entry_id, user_id, currency, amount::text, reason, actor_id FROM admin_adjustments WHERE idempotency_key = $1', [req.idempotencyKey]);
        const prior = existing.rows[0];
        if (prior) {
          const same = prior.user_id === req.userId && prior.currency === req.currency && signedDecimalToMinor(prior.amount, scale) === amountMinor
            && prior.reason === req.reason && prior.actor_id === req.actorId;
          if (!same) throw new AdminError('CONFLICT', `idempotencyKey ${req.idempotencyKey} was used for another adjustment (${prior.user_id} ${prior.currency} ${minorToDecimal(signedDecimalToMinor(prior.amount, scale), scale)})`);
          return { entryId: prior.entry_id, created: false };
        }
        if (state === null) throw new AdminError('INVALID_REQUEST', `userId: account ${req.userId} does not exist`);
        if (!adjustableStates.includes(state)) {
          throw new AdminError('FORBIDDEN_TRANSITION', `account ${req.userId} is ${state}: adjustments are allowed only in ${adjustableStates.join(', ')}`);
        }
        if (amountMinor < 0n) {
          await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`balance:${req.userId}:${req.currency}`]);
          const balance = await client.query<{ total: string | null }>('SELECT sum(amount)::text AS total FROM ledger_entries WHERE user_id = $1 AND currency = $2', [req.userId, req.currency]);
          const totalMinor = signedDecimalToMinor(balance.rows[0]?.total ?? '0', scale);
          if (totalMinor + amountMinor < 0n) {
            throw new AdminError('INVALID_REQUEST', `amount: a debit of ${req.amount.slice(1)} ${req.currency} exceeds ${req.userId}'s ledger balance ${minorToDecimal(totalMinor, scale)}`);
          }
        }
        const amount = minorToDecimal(amountMinor, scale);
        const opposite = minorToDecimal(-amountMinor, scale);
        await client.query(
          `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
           VALUES ($1, $2, $3, $4, 'admin_adjustment', $6), ($1, $7, $3, $5, 'admin_adjustment', $6)`,
          [entryId, req.userId, req.currency, amount, opposite, req.idempotencyKey, houseAdjustments]);
        await client.query(
          `INSERT INTO admin_adjustments (idempotency_key, entry_id, user_id, currency, amount, reason, actor_id, account_state)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [req.idempotencyKey, entryId, req.userId, req.currency, amount, req.reason, req.actorId, state]);
        // The engine's side, recorded with the journal: carried out below, or by the leader's drainer.
        await recordEngineCommands(client, [engineCredit]);
        return { entryId, created: true };
      });
      // A repeat of the request publishes again; the message id and the command id keep it once.
      await publishEngineCommandNow(deps.pool, deps.js, engineCredit);
      if (outcome.created) deps.log.info({ event: 'admin.balance.adjusted', entryId, userId: req.userId, currency: req.currency, amount: req.amount, actorId: req.actorId }, 'balance adjusted');
      return { entryId: outcome.entryId };
    },
  };
}

import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { accountEventSchema } from '../actors/account-event.js';
import type { NatsNames } from '../nats/names.js';
import type { Logger } from './logger.js';

const frozenStates = new Set(['suspended', 'restricted', 'banned', 'closed']);

/**
 * Logs the events on the bus an operator must see as they happen: an account frozen or
 * restored (with its state and why), and each EOD step done or failed and the seal. Other
 * transitions (signup, KYC) stay at debug: there are too many to read.
 */
export function logNotableBusEvents(nc: NatsConnection, names: NatsNames, log: Logger): Subscription[] {
  const accounts = nc.subscribe(names.subject('account.*.*'), {
    callback: (_error, msg) => {
      const parsed = accountEventSchema.safeParse((() => {
        try {
          return msg.json();
        } catch {
          return null;
        }
      })());
      if (!parsed.success) return;
      const e = parsed.data;
      const fields = { userId: e.userId, from: e.from, to: e.to, reasonCode: e.reasonCode, authority: e.authority, actorId: e.actorId, transitionId: e.transitionId };
      if (frozenStates.has(e.to)) log.warn({ event: 'account.frozen', ...fields }, `account ${e.userId} ${e.to} (${e.reasonCode}, by ${e.authority} ${e.actorId})`);
      else if (e.to === 'active' && e.from !== null && frozenStates.has(e.from)) log.info({ event: 'account.restored', ...fields }, `account ${e.userId} restored to active from ${e.from} (${e.reasonCode}, by ${e.authority} ${e.actorId})`);
      else log.debug({ event: 'account.moved', ...fields }, `account ${e.userId} ${e.from ?? '(new)'} -> ${e.to}`);
    },
  });
  const eod = nc.subscribe(names.subject('eod.>'), {
    callback: (_error, msg) => {
      let body: { date?: unknown; sha256?: unknown; error?: unknown } = {};
      try {
        body = msg.json();
      } catch {
        return;
      }
      const tokens = msg.subject.slice(names.subject('eod.').length).split('.');
      const date = typeof body.date === 'string' ? body.date : null;
      if (tokens[0] === 'sealed') log.info({ event: 'eod.sealed', date, sha256: body.sha256 }, `EOD ${date} sealed`);
      else if (tokens.length === 2 && (tokens[1] === 'completed' || tokens[1] === 'failed')) {
        const outcome = tokens[1];
        const fields = { event: `eod.step_${outcome}`, date, step: tokens[0], ...(typeof body.error === 'string' ? { error: body.error } : {}) };
        if (outcome === 'failed') log.error(fields, `EOD ${date} ${tokens[0]} failed`);
        else log.info(fields, `EOD ${date} ${tokens[0]} completed`);
      }
    },
  });
  return [accounts, eod];
}

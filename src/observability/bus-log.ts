import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { accountEventSchema } from '../actors/account-event.js';
import type { NatsNames } from '../nats/names.js';
import type { Logger } from './logger.js';

const frozenStates = new Set(['suspended', 'restricted', 'banned', 'closed']);

/**
 * Logs the events on the bus an operator must see as they happen, from the events themselves
 * (whichever instance or service caused them): each recon alert and resolution, an account
 * frozen or restored (with its state and why), withdrawals paused or resumed. (The close logs
 * its own steps.) Other transitions (signup, KYC) stay at debug: too many to read.
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
  const recon = (kind: 'alert' | 'resolved') => nc.subscribe(names.subject(`recon.${kind}.>`), {
    callback: (_error, msg) => {
      const body = jsonOf(msg);
      if (!body) return;
      const where = [body.userId, body.currency].filter((v) => typeof v === 'string').join(' ');
      if (kind === 'alert') log.warn({ event: 'recon.alert', ...body }, `ALERT ${String(body.boundary)} ${String(body.kind)} ${where} delta ${String(body.delta ?? '-')}`);
      else log.info({ event: 'recon.resolved', ...body }, `RESOLVED ${String(body.boundary)} ${String(body.kind)} ${where}`);
    },
  });
  const custody = nc.subscribe(names.subject('custody.withdrawals.>'), {
    callback: (_error, msg) => {
      const body = jsonOf(msg);
      if (!body || (body.action !== 'paused' && body.action !== 'resumed')) return;
      const fields = { event: `custody.withdrawals_${body.action}`, asset: body.asset, ledger: body.ledger, custody: body.custody, delta: body.delta, breakId: body.breakId };
      if (body.action === 'paused') log.warn(fields, `${String(body.asset)} withdrawals paused`);
      else log.info(fields, `${String(body.asset)} withdrawals resumed`);
    },
  });
  return [accounts, recon('alert'), recon('resolved'), custody];
}

function jsonOf(msg: { json<T>(): T }): Record<string, unknown> | null {
  try {
    const body = msg.json<unknown>();
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { expect } from 'vitest';
import { accountEventSchema, type AccountEvent } from '../../src/actors/account-event.js';
import type { AccountCommand } from '../../src/actors/account-command.js';
import { accountRecordSchema, verifyChain } from '../../src/actors/account-record.js';
import { accountHistory } from '../../src/actors/audit-log.js';
import { partitionOf } from '../../src/actors/partition.js';
import type { Pool } from '../../src/db/pool.js';
import type { AccountState, Authority } from '../../src/fsm/index.js';
import type { NatsNames } from '../../src/nats/names.js';
import { streamMessages } from './stream-messages.js';

/** One allowed move of an account run: every account makes the same moves in order. */
export interface PlannedMove {
  target: AccountState;
  authority: Authority;
  reasonCode: string;
}

/** Ten allowed moves per account, ending in `suspended` (the crash and outage tests' run). */
export const tenMovePlan: readonly PlannedMove[] = [
  { target: 'pending_kyc', authority: 'self', reasonCode: 'signup' },
  { target: 'kyc_rejected', authority: 'system', reasonCode: 'kyc_fail' },
  { target: 'pending_kyc', authority: 'self', reasonCode: 'resubmit' },
  { target: 'kyc_approved', authority: 'admin', reasonCode: 'kyc_pass' },
  { target: 'active', authority: 'system', reasonCode: 'first_deposit' },
  { target: 'suspended', authority: 'system', reasonCode: 'dispute' },
  { target: 'active', authority: 'admin', reasonCode: 'dispute_closed' },
  { target: 'restricted', authority: 'admin', reasonCode: 'dormancy' },
  { target: 'active', authority: 'admin', reasonCode: 'restore' },
  { target: 'suspended', authority: 'admin', reasonCode: 'court_order_review' },
];

/** A run of many accounts through the same moves, as the crash tests drive it. */
export interface AccountRun {
  names: NatsNames;
  partitions: number;
  plan: readonly PlannedMove[];
  userIds: readonly string[];
  commandIdOf(userId: string, step: number): string;
}

/**
 * Publishes the run round by round (every account's commands in stream order, interleaved with
 * the others'), each with its command id as Nats-Msg-Id. `sentTwice(account, step)`: that
 * command also goes a second time with the same command id and no Nats-Msg-Id, so the server
 * keeps both and the engine must answer the copy from the audit table. Returns how many went.
 */
export async function publishRun(js: JetStreamClient, run: AccountRun, options: { actorId: string; inFlightMax: number; sentTwice?(account: number, step: number): boolean }): Promise<number> {
  let published = 0;
  let inFlight: Array<Promise<unknown>> = [];
  for (const [step, move] of run.plan.entries()) {
    for (const [account, userId] of run.userIds.entries()) {
      const command: AccountCommand = {
        commandId: run.commandIdOf(userId, step), userId, kind: step === 0 ? 'create' : 'transition',
        target: move.target, authority: move.authority, reasonCode: move.reasonCode, actorId: options.actorId,
      };
      const subject = run.names.commandSubject(partitionOf(userId, run.partitions), userId);
      inFlight.push(js.publish(subject, JSON.stringify(command), { msgID: command.commandId }));
      published++;
      if (options.sentTwice?.(account, step)) {
        inFlight.push(js.publish(subject, JSON.stringify(command)));
        published++;
      }
      if (inFlight.length >= options.inFlightMax) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
  }
  await Promise.all(inFlight);
  return published;
}

/** No partition consumer has a command pending or unacked. */
export async function commandConsumersDrained(jsm: JetStreamManager, names: NatsNames, partitions: number): Promise<boolean> {
  for (let p = 0; p < partitions; p++) {
    const info = await jsm.consumers.info(names.commandStream, names.commandConsumer(p));
    if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
  }
  return true;
}

/**
 * Nothing lost, nothing doubled, order kept: no rejection and nothing parked; every account's
 * audit rows are its plan in order with the plan's command ids and an intact hash chain; its KV
 * record is at the last row (state, seq, transition, revision); the event stream holds each
 * transition once, each account's in audit order.
 */
export async function expectRunExact(deps: { nc: NatsConnection; js: JetStreamClient; pool: Pool }, run: AccountRun): Promise<void> {
  const { nc, js, pool } = deps;
  const transitionsTotal = run.userIds.length * run.plan.length;
  expect((await pool.query('SELECT count(*)::int AS n FROM account_command_rejections')).rows[0].n).toBe(0);
  expect((await pool.query('SELECT count(*)::int AS n FROM parked_commands')).rows[0].n).toBe(0);

  const accounts = await new Kvm(nc).open(run.names.accountsBucket);
  const events = (await streamMessages(js, run.names.eventStream)).map((msg) => accountEventSchema.parse(msg.json()));
  expect(events).toHaveLength(transitionsTotal);
  expect(new Set(events.map((e) => e.transitionId)).size).toBe(transitionsTotal);
  const eventsByUser = new Map<string, AccountEvent[]>();
  for (const e of events) eventsByUser.set(e.userId, [...(eventsByUser.get(e.userId) ?? []), e]);

  const finalState = run.plan.at(-1)?.target;
  for (const userId of run.userIds) {
    const rows = await accountHistory(pool, userId);
    expect(rows.map((r) => r.to)).toEqual(run.plan.map((m) => m.target));
    expect(rows.map((r) => r.commandId)).toEqual(run.plan.map((_, step) => run.commandIdOf(userId, step)));
    expect(verifyChain(rows)).toBeNull();

    const entry = await accounts.get(userId);
    const record = accountRecordSchema.parse(entry?.json());
    expect(record.state).toBe(finalState);
    expect(record.seq).toBe(run.plan.length);
    expect(record.last.transitionId).toBe(rows.at(-1)?.transitionId);
    expect(entry?.revision).toBe(rows.at(-1)?.kvRevision);

    expect((eventsByUser.get(userId) ?? []).map((e) => e.transitionId)).toEqual(rows.map((r) => r.transitionId));
  }
}

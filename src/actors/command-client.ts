import { randomUUID } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { createInbox, type NatsConnection } from '@nats-io/nats-core';
import type { Pool } from '../db/pool.js';
import type { NatsNames } from '../nats/names.js';
import { commandReplySchema, type AccountCommand, type CommandReply } from './account-command.js';
import { findOutcome } from './audit-log.js';
import { partitionOf } from './partition.js';

export interface CommandClientDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  pool: Pool;
  names: NatsNames;
  partitions: number;
  timeoutMs: number;
}

const outcomePollMs = 50;

/**
 * Sends an account command on its partition subject and waits for its outcome. The
 * JetStream message id is the command id, so a repeat inside the dedup window is dropped
 * by the server; its outcome is then read from the audit table, where the first copy's
 * answer is kept. Either way the caller gets the same answer for the same command id.
 */
export class AccountCommandClient {
  constructor(private readonly deps: CommandClientDeps) {}

  async send(input: Omit<AccountCommand, 'replyTo' | 'commandId'> & { commandId?: string }): Promise<CommandReply> {
    const { nc, js, names, partitions, timeoutMs } = this.deps;
    const commandId = input.commandId ?? randomUUID();
    const replyTo = createInbox();
    const command: AccountCommand = { ...input, commandId, replyTo };
    const deadlineMs = Date.now() + timeoutMs;

    const subscription = nc.subscribe(replyTo, { max: 1 });
    try {
      const replied = (async (): Promise<CommandReply | null> => {
        for await (const msg of subscription) return commandReplySchema.parse(msg.json());
        return null;
      })();
      const ack = await js.publish(names.commandSubject(partitionOf(command.userId, partitions), command.userId), JSON.stringify(command), {
        msgID: commandId,
        timeout: timeoutMs,
      });
      if (ack.duplicate) return await this.awaitStoredOutcome(command, deadlineMs);
      const timer = new Promise<null>((resolve) => setTimeout(() => resolve(null), Math.max(0, deadlineMs - Date.now())).unref());
      const reply = await Promise.race([replied, timer]);
      return reply ?? (await this.awaitStoredOutcome(command, Date.now()));
    } finally {
      subscription.unsubscribe();
    }
  }

  /**
   * Queues a command without waiting for its outcome: resolves once JetStream has stored it
   * (for callers that must not block on the account, e.g. a reconciler freezing one).
   */
  async enqueue(command: Omit<AccountCommand, 'replyTo'>): Promise<void> {
    const { js, names, partitions, timeoutMs } = this.deps;
    await js.publish(names.commandSubject(partitionOf(command.userId, partitions), command.userId), JSON.stringify(command), {
      msgID: command.commandId,
      timeout: timeoutMs,
    });
  }

  /** The subject a command for `userId` is sent on. */
  subjectOf(userId: string): string {
    return this.deps.names.commandSubject(partitionOf(userId, this.deps.partitions), userId);
  }

  /** The outcome of a command some earlier send already queued. */
  private async awaitStoredOutcome(command: AccountCommand, deadlineMs: number): Promise<CommandReply> {
    for (;;) {
      const outcome = await findOutcome(this.deps.pool, command.commandId);
      if (outcome) return outcome;
      if (Date.now() >= deadlineMs) break;
      await new Promise((resolve) => setTimeout(resolve, outcomePollMs));
    }
    return {
      ok: false,
      userId: command.userId,
      error: {
        code: 'INTERNAL',
        message: `no outcome for command ${command.commandId} within ${this.deps.timeoutMs} ms; it is queued and will be applied once; resend with the same commandId to read its outcome`,
      },
    };
  }
}

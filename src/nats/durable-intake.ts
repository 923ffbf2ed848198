import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import type { Pool } from '../db/pool.js';
import { parkCommand } from '../actors/parking.js';
import type { Logger } from '../observability/logger.js';
import { consumePullExpiresMs } from './durable-consumer.js';

/** What a handler made of one message: done (ack), or refused for good with a reason (park, then ack). */
export type IntakeVerdict = { done: true } | { done: false; parkReason: string };

export interface DurableIntakeSpec {
  stream: string;
  consumer: string;
  filterSubject: string;
  /** Tries before a message whose handler keeps throwing is parked with its last error. */
  attemptsMax: number;
  ackWaitMs: number;
  inFlightMax: number;
  retryDelayMs: number;
}

export const defaultDurableIntakeLimits = { attemptsMax: 5, ackWaitMs: 30_000, inFlightMax: 256, retryDelayMs: 1_000 } as const;

/**
 * One durable pull consumer handled one message at a time, in stream order: each message is
 * acked only after its handler's effect is committed; a message the handler refuses is parked
 * (parked_commands) with its reason and acked; one whose handler throws is retried after a delay
 * and parked after `attemptsMax` tries. Handlers must be idempotent (a redelivery changes nothing).
 */
export async function startDurableIntake(
  deps: { js: JetStreamClient; jsm: JetStreamManager; pool: Pool; log: Logger },
  spec: DurableIntakeSpec,
  handle: (msg: JsMsg) => Promise<IntakeVerdict>,
): Promise<{ stop(): Promise<void> }> {
  // Shared by every instance: created once, never rewound (a rewind deletes the consumer under the
  // other instances' feet); order across a redelivery does not matter to idempotent handlers.
  try {
    await deps.jsm.consumers.info(spec.stream, spec.consumer);
  } catch (error) {
    if (!/consumer not found/i.test((error as Error).message)) throw error;
    await deps.jsm.consumers.add(spec.stream, {
      durable_name: spec.consumer, filter_subject: spec.filterSubject, ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(spec.ackWaitMs), max_ack_pending: spec.inFlightMax, deliver_policy: DeliverPolicy.All,
    }).catch(async (addError: Error) => {
      // Another instance created it between our info and add: theirs stands.
      if (!(await deps.jsm.consumers.info(spec.stream, spec.consumer).then(() => true, () => false))) throw addError;
    });
  }
  const consumer = await deps.js.consumers.get(spec.stream, spec.consumer);
  const messages = await consumer.consume({ max_messages: spec.inFlightMax, expires: consumePullExpiresMs });
  const park = (msg: JsMsg, reason: string): Promise<void> =>
    parkCommand(deps.pool, { stream: spec.stream, streamSeq: msg.seq, subject: msg.subject, payload: new TextDecoder().decode(msg.data), bytes: msg.data }, reason, msg.info.deliveryCount);
  const loop = (async () => {
    for await (const msg of messages) {
      try {
        const verdict = await handle(msg);
        if (!verdict.done) {
          await park(msg, verdict.parkReason);
          deps.log.warn({ event: 'intake.parked', stream: spec.stream, subject: msg.subject, seq: msg.seq, reason: verdict.parkReason }, 'message parked');
        }
        msg.ack();
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        if (msg.info.deliveryCount >= spec.attemptsMax) {
          await park(msg, `failed ${msg.info.deliveryCount} times: ${reason}`).then(() => msg.ack(), () => msg.nak(spec.retryDelayMs));
          deps.log.error({ event: 'intake.parked', stream: spec.stream, subject: msg.subject, seq: msg.seq, err: reason }, 'message parked after its retries');
        } else {
          deps.log.warn({ event: 'intake.retry', stream: spec.stream, subject: msg.subject, seq: msg.seq, err: reason }, 'message will be retried');
          msg.nak(spec.retryDelayMs);
        }
      }
    }
  })();
  return {
    async stop() {
      await messages.close().catch(() => undefined);
      await loop.catch(() => undefined);
    },
  };
}

import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import { accountEventSchema, type AccountEvent } from '../actors/account-event.js';
import type { NatsNames } from '../nats/names.js';

/** An account's history can be long, but not unbounded: refuse rather than exhaust memory. */
export const replayEventsMax = 100_000;
const fetchBatch = 256;

/**
 * Reads every `account.*.<userId>` event from the event stream, oldest first, with an
 * ephemeral ordered consumer (single filter subject: works on NATS 2.9).
 */
export async function readAccountEvents(js: JetStreamClient, names: NatsNames, userId: string): Promise<AccountEvent[]> {
  const consumer = await js.consumers.get(names.eventStream, {
    filter_subjects: names.accountEventSubject('*', userId),
    deliver_policy: DeliverPolicy.All,
  });
  const events: AccountEvent[] = [];
  let pending = (await consumer.info(true)).num_pending;
  while (pending > 0) {
    const batch = await consumer.fetch({ max_messages: Math.min(fetchBatch, pending), expires: 5_000 });
    let received = 0;
    for await (const msg of batch) {
      events.push(accountEventSchema.parse(msg.json()));
      received++;
      pending = msg.info.pending;
      if (pending === 0) break;
    }
    if (received === 0) throw new Error(`event replay for ${userId} stalled with ${pending} events pending`);
    if (events.length > replayEventsMax) throw new Error(`event replay for ${userId} exceeds ${replayEventsMax} events`);
  }
  await consumer.delete().catch(() => undefined);
  return events;
}

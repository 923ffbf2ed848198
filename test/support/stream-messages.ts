import { DeliverPolicy, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';

/**
 * Every message of `stream` from its first, in order: an ephemeral consumer read to the end and
 * deleted. Tests count on it to prove what a stream holds (each alert once, each event once).
 */
export async function streamMessages(js: JetStreamClient, stream: string, batch = 1_000): Promise<JsMsg[]> {
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const out: JsMsg[] = [];
  let pending = (await consumer.info(true)).num_pending;
  while (pending > 0) {
    for await (const msg of await consumer.fetch({ max_messages: batch, expires: 5_000 })) {
      out.push(msg);
      pending = msg.info.pending;
    }
  }
  await consumer.delete().catch(() => undefined);
  return out;
}

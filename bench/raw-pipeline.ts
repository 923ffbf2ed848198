/**
 * The baseline of the transitions suite: the same I/O as the engine's command path with no
 * engine code. Per partition, one durable pull consumer; per fetched batch: parse each
 * command, one KV put each (pipelined), one multi-row INSERT of the audit rows, one event
 * publish each (pipelined), then ack each (and answer `replyTo`, so latency can be compared).
 * No FSM, no outcome lookup, no compare-and-set, no supervisor: a floor for what the
 * engine's I/O costs on this machine.
 */
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import { randomUUID } from 'node:crypto';
import type { Pool } from '../src/db/pool.js';
import type { NatsNames } from '../src/nats/names.js';

interface RawCommand { commandId: string; userId: string; target: string; authority: string; reasonCode: string; actorId: string; replyTo?: string }

export interface RawPipelineOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kv: KV;
  pool: Pool;
  names: NatsNames;
  partitions: number;
  /** Messages per pull batch (the engine's intake uses the same). */
  batchMax: number;
}

export interface RawPipeline { stop(): Promise<void> }

export async function startRawPipeline(opts: RawPipelineOptions): Promise<RawPipeline> {
  const { js, jsm, names } = opts;
  const seqByUser = new Map<string, number>();
  const loops: Array<{ messages: ConsumerMessages; done: Promise<void> }> = [];
  for (let p = 0; p < opts.partitions; p++) {
    const name = `raw-p${p}`;
    await jsm.consumers.add(names.commandStream, {
      durable_name: name,
      filter_subject: names.commandPartitionFilter(p),
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(30_000),
      max_ack_pending: 1_000,
      deliver_policy: DeliverPolicy.All,
    });
    const consumer = await js.consumers.get(names.commandStream, name);
    // fetch-style batches: take what is buffered, handle it as one batch.
    const messages = await consumer.consume({ max_messages: opts.batchMax });
    loops.push({ messages, done: pump(messages, opts, seqByUser) });
  }
  return {
    async stop() {
      for (const loop of loops) await loop.messages.close();
      await Promise.all(loops.map((l) => l.done));
    },
  };
}

/** Whatever arrived while the previous batch was being written forms the next one (up to batchMax). */
async function pump(messages: ConsumerMessages, opts: RawPipelineOptions, seqByUser: Map<string, number>): Promise<void> {
  const pending: JsMsg[] = [];
  let draining: Promise<void> | null = null;
  const drain = async (): Promise<void> => {
    while (pending.length > 0) {
      const batch = pending.splice(0, opts.batchMax);
      await handleBatch(batch, opts, seqByUser).catch((error: unknown) => console.error('raw pipeline: batch failed', error));
    }
    draining = null;
  };
  for await (const msg of messages) {
    pending.push(msg);
    draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(drain);
  }
  await draining;
}

async function handleBatch(batch: JsMsg[], opts: RawPipelineOptions, seqByUser: Map<string, number>): Promise<void> {
  const commands = batch.map((m) => m.json<RawCommand>());
  const rows = commands.map((c) => {
    const seq = (seqByUser.get(c.userId) ?? 0) + 1;
    seqByUser.set(c.userId, seq);
    return { transitionId: randomUUID(), seq, ...c };
  });
  await Promise.all(rows.map((r) => opts.kv.put(r.userId, JSON.stringify(r))));
  // A named prepared statement, as the engine's audit statements are (ADR 0032).
  await opts.pool.query({
    name: 'raw-audit-append',
    text: `INSERT INTO account_state_transitions
       (transition_id, user_id, seq, command_id, from_state, to_state, reason_code, authority, actor_id, at, prev_hash, hash, kv_revision)
     SELECT t, u, s, c, CASE WHEN s = 1 THEN NULL ELSE 'active' END, g, r, a, x, now(), '', '', 0
       FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS v(t, u, s, c, g, r, a, x)
     ON CONFLICT (command_id) DO NOTHING`,
    values: [rows.map((r) => r.transitionId), rows.map((r) => r.userId), rows.map((r) => r.seq), rows.map((r) => r.commandId),
      rows.map((r) => r.target), rows.map((r) => r.reasonCode), rows.map((r) => r.authority), rows.map((r) => r.actorId)],
  });
  await Promise.all(rows.map((r) => opts.js.publish(opts.names.accountEventSubject('raw', r.userId), JSON.stringify(r), { msgID: r.transitionId })));
  for (const [i, msg] of batch.entries()) {
    msg.ack();
    const replyTo = commands[i]?.replyTo;
    if (replyTo) opts.nc.publish(replyTo, JSON.stringify({ ok: true, userId: rows[i]?.userId, transitionId: rows[i]?.transitionId }));
  }
}

import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { nanos } from '@nats-io/nats-core';
import { z } from 'zod';
import type { NatsNames } from '../nats/names.js';
import type { Logger } from '../observability/logger.js';
import type { ParkedOrigin } from './command-intake.js';

export interface StrayCommandsDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: NatsNames;
  log: Logger;
  partitions: number;
  park(origin: ParkedOrigin, error: string, attempts: number): Promise<void>;
}

const ackEvery = 256;
const inFlightMax = 10_000;
const ackWaitMs = 60_000;
const retryMs = 1_000;
const looseCommand = z.object({ userId: z.string().max(64).optional(), replyTo: z.string().min(1).max(256).optional() }).passthrough();

/**
 * The command stream stores every `acct.cmd.>` message, but a partition consumer reads only
 * `acct.cmd.<p>.<one token>` for p < COMMAND_PARTITIONS. What none of them reads (a partition
 * out of range, a subject with extra tokens) would sit in the stream forever, unanswered.
 * This consumer (on the leader) sees every command's headers only, and parks the strays with
 * their exact bytes, answering the sender when the command names a reply subject. NATS 2.9
 * has no multi-filter or "everything but" consumer, hence headers-only over the whole stream,
 * acked cumulatively (AckAll): cheap per command, and a stray is parked before its ack.
 */
export class StrayCommands {
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
  private readonly prefix: string;
  parked = 0;
  private stopped = false;

  constructor(private readonly deps: StrayCommandsDeps) {
    this.prefix = deps.names.subject('acct.cmd.');
  }

  /** Whether a partition consumer reads this subject. */
  isRouted(subject: string): boolean {
    if (!subject.startsWith(this.prefix)) return false;
    const tokens = subject.slice(this.prefix.length).split('.');
    if (tokens.length !== 2 || !tokens[1]) return false;
    const partition = tokens[0] ?? '';
    return /^(0|[1-9]\d{0,3})$/.test(partition) && Number(partition) < this.deps.partitions;
  }

  async start(): Promise<void> {
    const { jsm, js, names } = this.deps;
    const name = names.commandStrayConsumer;
    try {
      await jsm.consumers.info(names.commandStream, name);
    } catch (error) {
      if (!/consumer not found/i.test((error as Error).message)) throw error;
      await jsm.consumers.add(names.commandStream, {
        durable_name: name,
        filter_subject: names.commandSubjectAll,
        ack_policy: AckPolicy.All,
        ack_wait: nanos(ackWaitMs),
        max_ack_pending: inFlightMax,
        deliver_policy: DeliverPolicy.All,
        headers_only: true,
      });
    }
    const consumer = await js.consumers.get(names.commandStream, name);
    this.messages = await consumer.consume({ max_messages: 1_000 });
    this.loop = this.pump(this.messages);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
    await this.loop;
  }

  private async pump(messages: ConsumerMessages): Promise<void> {
    let sinceAck = 0;
    for await (const msg of messages) {
      // A later ack would cover this one (AckAll): retry the park until it holds, or we stop.
      while (!this.isRouted(msg.subject) && !this.stopped) {
        try {
          await this.parkStray(msg);
          break;
        } catch (error) {
          this.deps.log.error({ event: 'intake.stray_park_failed', subject: msg.subject, seq: msg.seq, err: (error as Error).message }, 'stray command not parked yet; retrying');
          await new Promise((resolve) => setTimeout(resolve, retryMs));
        }
      }
      if (this.stopped) return;
      sinceAck++;
      if (sinceAck >= ackEvery || msg.info.pending === 0) {
        msg.ack();
        sinceAck = 0;
      }
    }
  }

  private async parkStray(msg: JsMsg): Promise<void> {
    const stored = await this.deps.jsm.streams.getMessage(msg.info.stream, { seq: msg.seq });
    const bytes = stored?.data ?? new Uint8Array();
    const payload = new TextDecoder().decode(bytes);
    const reason = `no partition consumer reads ${msg.subject}: commands go on ${this.prefix}<partition>.<userId> with partition 0–${this.deps.partitions - 1}`;
    await this.deps.park({ stream: msg.info.stream, streamSeq: msg.seq, subject: msg.subject, payload, bytes }, reason, 1);
    this.parked++;
    this.deps.log.error({ event: 'intake.stray_command', subject: msg.subject, seq: msg.seq }, 'command on a subject no partition reads: parked');
    this.answer(payload, reason);
  }

  /** A sender waiting on a reply subject hears that its command was parked. */
  private answer(payload: string, reason: string): void {
    let json: unknown;
    try {
      json = JSON.parse(payload);
    } catch {
      return;
    }
    const parsed = looseCommand.safeParse(json);
    if (!parsed.success || !parsed.data.replyTo) return;
    const reply = { ok: false, userId: parsed.data.userId ?? '', error: { code: 'INTERNAL', message: `parked: ${reason}` } };
    try {
      this.deps.nc.publish(parsed.data.replyTo, JSON.stringify(reply));
    } catch {
      // An invalid reply subject: the command is parked all the same.
    }
  }
}

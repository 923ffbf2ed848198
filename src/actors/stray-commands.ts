import type { Consumer, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { z } from 'zod';
import { deliveryGap, sleepUnlessStopped, type DeliveryCount } from '../nats/delivery-gap.js';
import { rewindDurableConsumer } from '../nats/durable-consumer.js';
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

/** How often the commands that arrived since the last sweep are read, at most. */
const sweepIntervalMs = 1_000;
/** Commands read in one sweep at most (also the consumer's max_ack_pending). */
const sweepMax = 10_000;
/** A fetch asks for what is pending, so it ends once that has come; this bounds it when some is lost on the way. */
const fetchExpiresMs = 2_000;
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
 * with no filter subject: filtered on the stream's one subject, each sweep's `info` made the
 * server count num_pending subject by subject under the stream's lock, and publishes of
 * commands waited for it, up to 2 s in the bench (ADR 0036).
 *
 * It sweeps: once a second it fetches what arrived since the last sweep in one burst and acks
 * the burst once (AckAll), a stray being parked before that ack. Read as each command arrived,
 * it cost a delivery and, at a moderate rate, an ack per command: a fifth of the engine's CPU
 * on the command path (ADR 0033). A stray waits up to a second longer for its answer.
 *
 * AckAll means an ack covers every earlier delivery, one lost in transit too. So each delivery
 * must follow the last one seen (`deliveryGap`), and a sweep must find nothing delivered and
 * unacked; otherwise nothing past the loss is acked and the consumer is rewound to its ack
 * floor (parking is idempotent by stream seq). It is rewound on start as well, so a previous
 * holder's unacked burst is read again rather than covered by our acks.
 */
export class StrayCommands {
  private consumer: Consumer | null = null;
  private fetch: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
  private count: DeliveryCount = { lastDelivery: 0 };
  private readonly prefix: string;
  private stopped = false;
  private rewindPending = false;
  private readonly stopSignal: Promise<void>;
  private signalStop: () => void = () => undefined;
  parked = 0;

  constructor(private readonly deps: StrayCommandsDeps) {
    this.prefix = deps.names.subject('acct.cmd.');
    this.stopSignal = new Promise((resolve) => (this.signalStop = resolve));
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
    await this.rewind();
    this.loop = this.sweepUntilStopped();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.signalStop();
    this.fetch?.stop();
    await this.loop;
  }

  /** Recreates the consumer at its ack floor: what was delivered and not acked comes again. */
  private async rewind(): Promise<void> {
    const { jsm, js, names } = this.deps;
    await rewindDurableConsumer(jsm, {
      stream: names.commandStream, name: names.commandStrayConsumer, filterSubject: null,
      ackWaitMs, inFlightMax: sweepMax, firstStart: 'all', ackAll: true, headersOnly: true,
    });
    this.consumer = await js.consumers.get(names.commandStream, names.commandStrayConsumer);
    this.count = { lastDelivery: 0 };
    this.rewindPending = false;
  }

  private async sweepUntilStopped(): Promise<void> {
    while (!this.stopped) {
      let more = false;
      try {
        if (this.rewindPending) await this.rewind();
        more = await this.sweep();
      } catch (error) {
        if (this.stopped) return;
        // Whatever failed (NATS away, a rewind cut between its delete and its add, the consumer
        // removed under us), the next try starts from the ack floor: nothing is acked over.
        this.rewindPending = true;
        this.deps.log.warn({ event: 'intake.stray_sweep_failed', err: (error as Error).message }, 'stray-command sweep failed; trying again from the ack floor');
      }
      if (!more) await sleepUnlessStopped(sweepIntervalMs, this.stopSignal);
    }
  }

  /** Reads and acks what is pending; true when more is waiting than one sweep reads. */
  private async sweep(): Promise<boolean> {
    const consumer = this.consumer;
    if (!consumer) return false;
    const info = await consumer.info();
    // Every sweep acks what it read, so something delivered and not acked means a delivery (or
    // an ack) of the last sweep was lost in transit: read again from the ack floor.
    if (info.num_ack_pending > 0) {
      await this.rewindAfterLoss({ unacked: info.num_ack_pending });
      return true;
    }
    const wanted = Math.min(info.num_pending, sweepMax);
    if (wanted === 0 || this.stopped) return false;
    const messages = await consumer.fetch({ max_messages: wanted, expires: fetchExpiresMs });
    this.fetch = messages;
    if (this.stopped) messages.stop();
    let last: JsMsg | null = null;
    let gap: ReturnType<typeof deliveryGap> = null;
    try {
      for await (const msg of messages) {
        gap = deliveryGap(this.count, msg);
        if (gap) break;
        // The ack below covers this one too (AckAll): park it first, retrying until it holds or we stop.
        if (!(await this.parkIfStray(msg))) break;
        last = msg;
      }
    } finally {
      this.fetch = null;
      messages.stop();
    }
    last?.ack();
    if (gap && !this.stopped) {
      await this.rewindAfterLoss({ expected: gap.expected, got: gap.got, seq: gap.streamSeq });
      return true;
    }
    return info.num_pending > sweepMax;
  }

  private async rewindAfterLoss(detail: Record<string, number>): Promise<void> {
    this.deps.log.warn({ event: 'intake.stray_delivery_gap', ...detail }, 'stray-command delivery lost in transit: rewinding the stray consumer to its ack floor');
    await this.rewind();
  }

  /** False when stopped before a stray could be parked (it must not be acked then). */
  private async parkIfStray(msg: JsMsg): Promise<boolean> {
    if (this.isRouted(msg.subject)) return true;
    while (!this.stopped) {
      try {
        await this.parkStray(msg);
        return true;
      } catch (error) {
        this.deps.log.error({ event: 'intake.stray_park_failed', subject: msg.subject, seq: msg.seq, err: (error as Error).message }, 'stray command not parked yet; retrying');
        await sleepUnlessStopped(retryMs, this.stopSignal);
      }
    }
    return false;
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

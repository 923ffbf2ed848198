import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { limits } from '../config/limits.js';
import { consumeAcrossGaps, deliveryGap, GapRewindBackoff, sleepUnlessStopped, type ConsumeSession, type DeliveryGap } from '../nats/delivery-gap.js';
import { consumePullExpiresMs, rewindDurableConsumer } from '../nats/durable-consumer.js';
import type { Logger } from '../observability/logger.js';
import { intakeDeliveryGaps, observeCommand } from '../observability/metrics.js';
import type { NatsNames } from '../nats/names.js';
import type { CircuitBreaker } from '../supervisor/circuit-breaker.js';
import type { Delivery, Settlement, Supervisor } from '../supervisor/supervisor.js';
import { partitionOf } from './partition.js';
import { accountCommandSchema, type AccountCommand, type CommandOutcome } from './account-command.js';

export interface IntakeLimits {
  /** Unacked commands one partition may have in flight (JetStream max_ack_pending). */
  inFlightMax: number;
  ackWaitMs: number;
}

export interface ParkedOrigin {
  stream: string;
  streamSeq: number;
  subject: string;
  payload: string;
  /** The message's exact bytes (kept as bytea: they may hold what text cannot, e.g. NUL). */
  bytes?: Uint8Array;
}

const parkRetryMs = 5_000;
const inFlightPollMs = 20;
/** A message handed on (dispatched, parked, or waiting for the breaker) for longer than this: the intake's pending count is not current. */
const intakeHeldUpMs = 1_000;

export const defaultIntakeLimits: IntakeLimits = { inFlightMax: limits.intakeInFlightMax, ackWaitMs: limits.intakeAckWaitMs };

export interface CommandIntakeDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: NatsNames;
  /** Where each command goes: its account's mailbox (the supervisor). */
  supervisor: Pick<Supervisor<AccountCommand, CommandOutcome>, 'dispatch'>;
  /** While it is open the intake takes nothing more from its consumer (ADR 0028). */
  breaker?: CircuitBreaker;
  log: Logger;
  limits: IntakeLimits;
  partitions: number;
  /** Durably keeps a command that cannot be handled (idempotent by stream and sequence). */
  park(origin: ParkedOrigin, error: string, attempts: number): Promise<void>;
  /** Publishes the outcome for whoever asked (the admin service), after it is durable. */
  reply(command: AccountCommand, settlement: Settlement<CommandOutcome>): void;
}

/**
 * The durable pull consumer of one command partition, feeding the account supervisor.
 * On start it is rewound to its ack floor (see rewindDurableConsumer), so commands of one
 * account keep their order across a crash; re-delivered commands that were already applied
 * are answered from the audit table (idempotent by command id).
 *
 * A delivery lost in transit (the connection dropped while the server wrote it) would come
 * back only after ack_wait, behind newer commands. Its trace is a gap in the consumer's
 * delivery sequence: the intake then dispatches nothing more from that consume, rewinds the
 * consumer to its ack floor again and consumes anew, so the lost command comes first (ADR 0031).
 */
export class CommandIntake {
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
  /** Dispatched, not yet settled: a stop waits for these so a new owner does not race them. */
  private inFlight = 0;
  private stopping = false;
  private wakeStopping: () => void = () => undefined;
  private readonly stopSignal = new Promise<void>((resolve) => {
    this.wakeStopping = resolve;
  });
  /** num_pending as the server stamped it on the last delivery, or counted it when this session opened. */
  private pendingAtLastDelivery: number | null = null;
  /** When the message being handed on was taken (null: waiting for the next): a long hand-over means the intake is held up. */
  private handingOnSinceMs: number | null = null;
  /** The wait before a gap rewind: longer for one within ack_wait of the last (two pullers at a lease hand-over). */
  private readonly gapBackoff: GapRewindBackoff;

  constructor(
    readonly partition: number,
    private readonly deps: CommandIntakeDeps,
  ) {
    this.gapBackoff = new GapRewindBackoff({ ackWaitMs: deps.limits.ackWaitMs, initialMs: limits.intakeGapRewindBackoffInitialMs, maxMs: limits.intakeGapRewindBackoffMaxMs });
  }

  async start(): Promise<void> {
    const session = await this.openSession();
    this.messages = session.messages;
    this.loop = this.run(session);
  }

  /**
   * Messages of this partition not yet delivered, as the server counted them at the last delivery,
   * while that count is current: the intake is pulling (breaker closed, room in flight), so whatever
   * arrives since is delivered and recounted at once. Null otherwise: ask the server. Free, where an
   * `info` of this filtered consumer costs the stream's lock in NATS 2.9 (ADR 0037).
   */
  pendingWhileFlowing(): number | null {
    const heldUp = this.handingOnSinceMs !== null && Date.now() - this.handingOnSinceMs > intakeHeldUpMs;
    if (this.stopping || heldUp || this.deps.breaker?.state === 'open' || this.inFlight >= this.deps.limits.inFlightMax) return null;
    return this.pendingAtLastDelivery;
  }

  async stop(drainTimeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    this.wakeStopping();
    await this.messages?.close();
    await this.loop;
    const deadline = Date.now() + drainTimeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  /** Rewinds the consumer to its ack floor and consumes it from there. */
  private async openSession(): Promise<ConsumeSession> {
    const { js, names } = this.deps;
    const consumerName = await this.rewindConsumer();
    const consumer = await js.consumers.get(names.commandStream, consumerName);
    // Just recreated: nothing delivered yet (unless another instance rewound it meanwhile).
    const { delivered, num_pending } = await consumer.info(true);
    // The count from here on: this answer (the consumer's creation), then each delivery's.
    this.pendingAtLastDelivery = num_pending;
    const messages = await consumer.consume({ max_messages: Math.min(limits.intakeBatchMax, this.deps.limits.inFlightMax), expires: consumePullExpiresMs });
    return { messages, lastDelivery: delivered.consumer_seq };
  }

  private async rewindConsumer(): Promise<string> {
    const { jsm, names, limits, log } = this.deps;
    const name = names.commandConsumer(this.partition);
    const startSeq = await rewindDurableConsumer(jsm, {
      stream: names.commandStream,
      name,
      filterSubject: names.commandPartitionFilter(this.partition),
      ackWaitMs: limits.ackWaitMs,
      inFlightMax: limits.inFlightMax,
      firstStart: 'all',
    });
    log.debug({ event: 'intake.started', partition: this.partition, consumer: name, startSeq }, 'command consumer ready');
    return name;
  }

  /** Consumes session after session: a gap ends one, and the next starts at the ack floor. */
  private run(first: ConsumeSession): Promise<void> {
    return consumeAcrossGaps(first, {
      pump: (session) => this.pump(session),
      onGap: (gap) => {
        this.deps.log.warn({ event: 'intake.delivery_gap', partition: this.partition, expected: gap.expected, got: gap.got, streamSeq: gap.streamSeq, inFlight: this.inFlight },
          'command delivery lost in transit: rewinding the partition consumer to its ack floor');
        intakeDeliveryGaps.inc({ partition: String(this.partition) });
      },
      reopen: () => this.reopenAfterGap(),
      stopped: () => this.stopping,
      current: (messages) => void (this.messages = messages),
    });
  }

  /**
   * Once what is in flight has settled, rewinds and consumes again (retrying until it works);
   * null if the intake stopped first. Why wait: an ack sent after the rewind would reach the
   * new consumer, and one naming a delivery sequence of the old could move its ack floor past
   * commands not yet handled (NATS 2.9 takes the floor from it), which a later rewind would skip.
   */
  private async reopenAfterGap(): Promise<ConsumeSession | null> {
    while (this.inFlight > 0 && !this.stopping) await this.sleep(inFlightPollMs);
    await this.sleep(this.gapBackoff.next());
    while (!this.stopping) {
      try {
        return await this.openSession();
      } catch (error) {
        this.deps.log.warn({ event: 'intake.rewind_failed', partition: this.partition, err: (error as Error).message }, 'partition consumer not rewound yet; retrying');
        await this.sleep(limits.intakeRewindRetryMs);
      }
    }
    return null;
  }

  private async sleep(ms: number): Promise<void> {
    if (!this.stopping) await sleepUnlessStopped(ms, this.stopSignal);
  }

  /** Dispatches the session's messages in order; returns the gap that ended it, or null (stopped, or the supervisor stopped). */
  private async pump(session: ConsumeSession): Promise<DeliveryGap | null> {
    for await (const msg of session.messages) {
      const gap = deliveryGap(session, msg);
      // Not dispatched: it and everything after it come again, behind the lost one. Leaving
      // the loop ends the session (its subscription goes).
      if (gap) {
        this.pendingAtLastDelivery = null;
        return gap;
      }
      this.pendingAtLastDelivery = msg.info.pending;
      this.handingOnSinceMs = Date.now();
      try {
        if (!(await this.breakerLetsIn())) return null;
        await this.accept(msg);
      } catch (error) {
        // Only when the supervisor has stopped: leave the message for redelivery.
        this.deps.log.warn({ event: 'intake.dispatch_failed', partition: this.partition, err: (error as Error).message }, 'command not dispatched');
        return null;
      } finally {
        this.handingOnSinceMs = null;
      }
    }
    return null;
  }

  /**
   * Waits while the breaker is open. The consumer then pulls nothing more (its buffer of at most
   * one pull stays where it is, unacked); what it holds and what the stream holds wait, in order.
   * A wait longer than ack_wait only brings redeliveries, which are answered from the audit table.
   * False: the intake is stopping (the message stays unacked, for redelivery).
   */
  private async breakerLetsIn(): Promise<boolean> {
    const { breaker } = this.deps;
    if (breaker?.state !== 'open') return true;
    while (breaker.state === 'open' && !this.stopping) await Promise.race([breaker.changed(), this.stopSignal]);
    return !this.stopping;
  }

  private async accept(msg: JsMsg): Promise<void> {
    const payload = msg.string();
    const origin: ParkedOrigin = { stream: msg.info.stream, streamSeq: msg.seq, subject: msg.subject, payload, bytes: msg.data };
    const parsed = parseCommand(payload);
    const misrouted = parsed.ok ? this.misrouted(msg.subject, parsed.command.userId) : null;
    if (!parsed.ok || misrouted) {
      const error = parsed.ok ? misrouted ?? '' : parsed.error;
      try {
        await this.deps.park(origin, error, 1);
      } catch (parkError) {
        // Postgres away: this message comes back later; the partition goes on meanwhile.
        this.deps.log.error({ event: 'intake.park_failed', subject: msg.subject, seq: msg.seq, err: (parkError as Error).message }, 'invalid command not parked yet; redelivered later');
        msg.nak(parkRetryMs);
        return;
      }
      msg.ack();
      this.deps.log.error({ event: 'intake.invalid_command', subject: msg.subject, seq: msg.seq, err: error }, 'invalid command parked');
      return;
    }
    const command = parsed.command;
    const delivery: Delivery<AccountCommand, CommandOutcome> = {
      key: command.userId,
      message: command,
      settle: (settlement) => {
        this.inFlight--;
        msg.ack();
        this.deps.reply(command, settlement);
        observeCommand(command, settlement, Number(msg.info.timestampNanos / 1_000_000));
      },
      park: (error, attempts) => this.deps.park(origin, error, attempts),
      inProgress: () => msg.working(),
    };
    this.inFlight++;
    try {
      await this.deps.supervisor.dispatch(delivery);
    } catch (error) {
      this.inFlight--;
      throw error;
    }
  }

  /** A command on the wrong subject would bypass its account's ordering: refuse it. */
  private misrouted(subject: string, userId: string): string | null {
    const expected = this.deps.names.commandSubject(partitionOf(userId, this.deps.partitions), userId);
    return subject === expected ? null : `command for ${userId} must be sent on ${expected}, not ${subject}`;
  }
}

function parseCommand(payload: string): { ok: true; command: AccountCommand } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return { ok: false, error: 'payload is not JSON' };
  }
  const result = accountCommandSchema.safeParse(json);
  if (!result.success) return { ok: false, error: result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  return { ok: true, command: result.data };
}

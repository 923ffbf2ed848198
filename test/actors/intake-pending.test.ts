import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountCommand, CommandOutcome } from '../../src/actors/account-command.js';
import { CommandIntake } from '../../src/actors/command-intake.js';
import { partitionOf } from '../../src/actors/partition.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { ensureAccountTopology, type Topology } from '../../src/nats/topology.js';
import type { Delivery } from '../../src/supervisor/supervisor.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';

/**
 * A partition's pending count, as /metrics serves it (ADR 0037): the intake's own, from the
 * server's stamp on each delivery, while that is current; null (ask the server) while the intake
 * is held up, so a stalled partition never shows a stale 0.
 */
const partitions = 16;
const partition = 0;

let nc: NatsConnection;
let js: JetStreamClient;
let topology: Topology;
let names: NatsNames;

/** Users whose commands go to `partition`. */
const users = Array.from({ length: 400 }, (_, i) => `pend${i}`).filter((u) => partitionOf(u, partitions) === partition);

function command(userId: string): AccountCommand {
  return { commandId: `c-${userId}`, userId, kind: 'create', target: 'pending_kyc', authority: 'self', reasonCode: 'signup', actorId: userId };
}

async function publish(userIds: readonly string[]): Promise<void> {
  for (const userId of userIds) await js.publish(names.commandSubject(partition, userId), JSON.stringify(command(userId)), { msgID: `c-${userId}` });
}

beforeAll(async () => {
  names = natsNames(testNamespace());
  nc = await connect({ servers: sharedNatsUrl() });
  js = jetstream(nc);
  topology = await ensureAccountTopology(nc, names);
});

afterAll(async () => {
  await deleteNamespaceStreams(nc, names);
  await nc?.close();
});

describe('a command intake\'s pending count', () => {
  it('is the server\'s, kept current by each delivery while the intake flows; unknown while a hand-over holds it up', { timeout: 30_000 }, async () => {
    expect(users.length).toBeGreaterThanOrEqual(6);
    const delivered: string[] = [];
    let release: () => void = () => undefined;
    let held: Promise<void> | null = new Promise<void>((resolve) => {
      release = resolve;
    });
    const supervisor = {
      async dispatch(delivery: Delivery<AccountCommand, CommandOutcome>): Promise<void> {
        delivered.push(delivery.key);
        // The first hand-over waits (a full mailbox, say) until released.
        if (held) await held;
        delivery.settle({ kind: 'done', result: { ok: true, userId: delivery.key, from: null, to: 'pending_kyc', revision: 1, transitionId: 't' } });
      },
    };
    await publish(users.slice(0, 3));
    const intake = new CommandIntake(partition, {
      js, jsm: topology.jsm, names, supervisor, log: silentLogger(), limits: { inFlightMax: 100, ackWaitMs: 30_000 }, partitions,
      park: async () => undefined, reply: () => undefined,
    });
    await intake.start();
    try {
      await until('the first command handed on', () => delivered.length === 1);
      // Taken 2 of 3 behind it into the pull's buffer: the count says so while it is fresh, then is unknown.
      await new Promise((r) => setTimeout(r, 1_200));
      expect(intake.pendingWhileFlowing()).toBeNull();

      held = null;
      release();
      await until('the three handed on and the count current again', () => delivered.length === 3 && intake.pendingWhileFlowing() === 0);

      // Flowing: what arrives is delivered at once and the count follows, with no question to the server.
      const infoRequests: string[] = [];
      const watch = nc.subscribe(`$JS.API.CONSUMER.INFO.${names.commandStream}.>`, { callback: (_e, msg) => void infoRequests.push(msg.subject) });
      await nc.flush();
      await publish(users.slice(3, 6));
      await until('three more handed on', () => delivered.length === 6);
      expect(intake.pendingWhileFlowing()).toBe(0);
      watch.unsubscribe();
      expect(infoRequests).toEqual([]);
      expect(delivered).toEqual(users.slice(0, 6));
    } finally {
      release();
      await intake.stop();
    }
  });
});

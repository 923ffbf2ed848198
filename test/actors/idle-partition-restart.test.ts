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
 * ADR 0038: a partition that took nothing new between two restarts is rewound past what it
 * handled, not to the stream's first message. NATS 2.9 reports an ack floor of 0 for a consumer
 * that has acked nothing since its creation at a start sequence; read as is, every other restart
 * of an idle partition replayed its whole history (each command answered again from the audit
 * table, its reply published again).
 */
const partitions = 16;
const partition = 0;

let nc: NatsConnection;
let js: JetStreamClient;
let topology: Topology;
let names: NatsNames;

const users = Array.from({ length: 400 }, (_, i) => `idle${i}`).filter((u) => partitionOf(u, partitions) === partition);

async function publish(userId: string): Promise<void> {
  const command: AccountCommand = { commandId: `c-${userId}`, userId, kind: 'create', target: 'pending_kyc', authority: 'self', reasonCode: 'signup', actorId: userId };
  await js.publish(names.commandSubject(partition, userId), JSON.stringify(command), { msgID: command.commandId });
}

/** An intake of the partition whose supervisor notes each command and settles it at once. */
async function startIntake(delivered: string[]): Promise<CommandIntake> {
  const supervisor = {
    async dispatch(delivery: Delivery<AccountCommand, CommandOutcome>): Promise<void> {
      delivered.push(delivery.key);
      delivery.settle({ kind: 'done', result: { ok: true, userId: delivery.key, from: null, to: 'pending_kyc', revision: 1, transitionId: 't' } });
    },
  };
  const intake = new CommandIntake(partition, {
    js, jsm: topology.jsm, names, supervisor, log: silentLogger(), limits: { inFlightMax: 100, ackWaitMs: 30_000 }, partitions,
    park: async () => undefined, reply: () => undefined,
  });
  await intake.start();
  return intake;
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

describe('an idle partition across restarts', () => {
  it('takes only what is new, restart after restart', { timeout: 30_000 }, async () => {
    expect(users.length).toBeGreaterThanOrEqual(6);
    for (const user of users.slice(0, 3)) await publish(user);
    const first: string[] = [];
    let intake = await startIntake(first);
    await until('the first three commands handled', () => first.length === 3);
    await intake.stop();

    // Restarts with nothing new in between; then one new command each time. Anything replayed
    // would be delivered before it (stream order), so each intake must see that one alone.
    for (const [restart, user] of users.slice(3, 6).entries()) {
      const idle: string[] = [];
      intake = await startIntake(idle);
      await intake.stop();
      expect(idle, `restart ${restart}, idle`).toEqual([]);
      const seen: string[] = [];
      intake = await startIntake(seen);
      await publish(user!);
      await until(`restart ${restart}: the new command handled`, () => seen.includes(user!));
      await intake.stop();
      expect(seen, `restart ${restart}`).toEqual([user]);
    }
  });
});

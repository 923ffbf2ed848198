import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { AccountCommand, CommandOutcome } from '../../src/actors/account-command.js';
import { CommandIntake } from '../../src/actors/command-intake.js';
import { partitionOf } from '../../src/actors/partition.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { ensureAccountTopology, type Topology } from '../../src/nats/topology.js';
import type { Delivery } from '../../src/supervisor/supervisor.js';
import { deleteNamespaceStreams } from './engine.js';
import { silentLogger } from './log.js';
import { sharedNatsUrl, testNamespace } from './nats.js';

export type CommandDelivery = Delivery<AccountCommand, CommandOutcome>;

/**
 * One command partition on the shared NATS (a namespace of its own), for driving a CommandIntake
 * with a supervisor the test writes: no engine, no database.
 */
export interface PartitionIntakeBed {
  nc: NatsConnection;
  js: JetStreamClient;
  names: NatsNames;
  topology: Topology;
  /** Users whose commands go to the bed's partition, named `<prefix><n>`. */
  users(prefix: string): string[];
  /** Publishes each user's signup command on its partition subject (Nats-Msg-Id = its command id). */
  publish(userIds: readonly string[]): Promise<void>;
  /** A started intake of the partition handing each command to `dispatch`. */
  startIntake(dispatch: (delivery: CommandDelivery) => Promise<void>): Promise<CommandIntake>;
  close(): Promise<void>;
}

export async function partitionIntakeBed(partitions: number, partition: number): Promise<PartitionIntakeBed> {
  const names = natsNames(testNamespace());
  const nc = await connect({ servers: sharedNatsUrl() });
  const js = jetstream(nc);
  const topology = await ensureAccountTopology(nc, names);
  return {
    nc, js, names, topology,
    users: (prefix) => Array.from({ length: 400 }, (_, i) => `${prefix}${i}`).filter((u) => partitionOf(u, partitions) === partition),
    async publish(userIds) {
      for (const userId of userIds) {
        const command: AccountCommand = { commandId: `c-${userId}`, userId, kind: 'create', target: 'pending_kyc', authority: 'self', reasonCode: 'signup', actorId: userId };
        await js.publish(names.commandSubject(partition, userId), JSON.stringify(command), { msgID: command.commandId });
      }
    },
    async startIntake(dispatch) {
      const intake = new CommandIntake(partition, {
        js, jsm: topology.jsm, names, supervisor: { dispatch }, log: silentLogger(), limits: { inFlightMax: 100, ackWaitMs: 30_000 }, partitions,
        park: async () => undefined, reply: () => undefined,
      });
      await intake.start();
      return intake;
    },
    async close() {
      await deleteNamespaceStreams(nc, names);
      await nc.close();
    },
  };
}

/** Settles a delivery as a signup applied (what a supervisor does once the command's effects are durable). */
export function settleSignup(delivery: CommandDelivery): void {
  delivery.settle({ kind: 'done', result: { ok: true, userId: delivery.key, from: null, to: 'pending_kyc', revision: 1, transitionId: 't' } });
}

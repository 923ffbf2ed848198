import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import { startEngine, type Engine } from '../../src/engine/engine.js';
import { natsNames } from '../../src/nats/names.js';
import { createTestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let settings: Settings;
let client: NatsConnection;
const engines: Engine[] = [];

const start = async (): Promise<Engine> => {
  const engine = await startEngine({ settings, natsUrl: sharedNatsUrl(), databaseUrl: database.url, log: silentLogger() });
  engines.push(engine);
  return engine;
};


beforeAll(async () => {
  database = await createTestDatabase();
  settings = loadSettings({}, { NAMESPACE: testNamespace(), COMMAND_PARTITIONS: '8', LEASE_TTL_MS: '1500', LOG_LEVEL: 'silent' });
  client = await connect({ servers: sharedNatsUrl() });
});

afterAll(async () => {
  for (const engine of engines) await engine.stop().catch(() => undefined);
  await deleteNamespaceStreams(client, natsNames(settings.NAMESPACE));
  await client?.close();
  await database?.drop();
});

describe('partition leases (several engine instances)', () => {
  it('splits the partitions between instances, elects one leader, serves commands, and hands over when one stops', { timeout: 60_000 }, async () => {
    const a = await start();
    expect(a.ownedPartitions()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const b = await start();
    await until('a fair split', () => a.ownedPartitions().length === 4 && b.ownedPartitions().length === 4);
    expect([...a.ownedPartitions(), ...b.ownedPartitions()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

    const names = natsNames(settings.NAMESPACE);
    const ask = async (subject: string, body: unknown): Promise<Record<string, unknown>> =>
      (await client.request(`${names.adminPrefix}.${subject}`, JSON.stringify(body), { timeout: 15_000 })).json();
    const users = Array.from({ length: 40 }, (_, i) => `lease${i}`);
    for (const userId of users) expect(await ask('account.create', { userId })).toMatchObject({ state: 'pending_kyc' });

    // One leader runs the reconcilers; recon requests reach it whichever instance takes them.
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    for (let i = 0; i < 10; i++) {
      const status = await ask('recon.status', {});
      expect(status).toHaveProperty('boundaries');
      expect((status.boundaries as Array<{ name: string; enabled: boolean }>)[0]).toMatchObject({ name: 'me_db', enabled: true });
    }

    await a.stop();
    await until('b takes over every partition', () => b.ownedPartitions().length === 8);
    await until('b leads', () => b.isLeader());
    for (const userId of users) {
      expect(await ask('account.transition', { userId, target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' }))
        .toMatchObject({ from: 'pending_kyc', to: 'kyc_approved' });
    }
  });
});

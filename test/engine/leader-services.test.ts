import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { startEngine } from '../../src/engine/engine.js';
import { natsNames } from '../../src/nats/names.js';
import { createTestDatabase } from '../support/database.js';
import { deleteNamespaceStreams } from '../support/engine.js';
import { capturingLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';

describe('leader services start all or none', () => {
  it('a boundary failing to start leaves nothing running, retries with backoff, and the engine still serves and stops', async () => {
    const database = await createTestDatabase();
    const names = natsNames(testNamespace());
    const { log, lines } = capturingLogger();
    const settings = loadSettings({}, {
      NAMESPACE: names.namespace, COMMAND_PARTITIONS: '2', LEASE_TTL_MS: '1000',
      // Not validated in-process (npm start would exit 2): db_custody throws when it starts.
      BITGO_ROOT_URI: 'http://127.0.0.1:1', BITGO_ACCESS_TOKEN: `v2x${'a'.repeat(64)}`, BITGO_WALLETS: 'BTC=notacoin:w1',
    });
    const engine = await startEngine({ settings, natsUrl: sharedNatsUrl(), databaseUrl: database.url, log });
    const client = await connect({ servers: sharedNatsUrl() });
    try {
      await new Promise((r) => setTimeout(r, 5_000));
      const failures = lines.filter((l) => l.event === 'leader.start_failed');
      expect(failures.length).toBeGreaterThanOrEqual(2);
      // Backoff: far fewer attempts than lease rounds (one every ~333 ms).
      expect(failures.length).toBeLessThanOrEqual(5);
      const started = lines.filter((l) => l.event === 'recon.started' && l.boundary === 'me_db').length;
      const stopped = lines.filter((l) => l.event === 'recon.stopped' && l.boundary === 'me_db').length;
      expect(started).toBe(failures.length);
      expect(stopped).toBe(started);
      expect(engine.isLeader()).toBe(false);
      // Account commands are not starved.
      const reply = (await client.request(`${names.adminPrefix}.account.create`, JSON.stringify({ userId: 'ls1' }), { timeout: 5_000 })).json<{ state?: string }>();
      expect(reply.state).toBe('pending_kyc');
    } finally {
      const stopStarted = Date.now();
      await engine.stop();
      expect(Date.now() - stopStarted).toBeLessThan(10_000);
      await deleteNamespaceStreams(client, names);
      await client.close();
      await database.drop();
    }
  });
});

import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminService } from '../../src/admin/admin-service.js';
import { natsNames } from '../../src/nats/names.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * The admin service is ready when its start resolves: its endpoints are registered at the
 * server, not only queued in the client. Before, a request sent from another connection right
 * after an engine started could get "no responders" (seen in CI under load, in the first
 * `admin.account.create` of a test's setup).
 */
let proxy: TcpProxy;
let serviceConnection: NatsConnection;
let client: NatsConnection;

beforeAll(async () => {
  const url = new URL(sharedNatsUrl().replace(/^nats:/, 'http:'));
  proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
  serviceConnection = await connect({ servers: `127.0.0.1:${proxy.port}` });
  client = await connect({ servers: sharedNatsUrl() });
});

afterAll(async () => {
  await serviceConnection?.close();
  await client?.close();
  await proxy?.close();
});

describe('admin service start', () => {
  it('resolves once the server has its endpoints, even when the service\'s writes reach the server late', async () => {
    const names = natsNames(testNamespace());
    const held = proxy.holdClientBytes();
    setTimeout(() => held.release(), 300);
    const service = await startAdminService({ nc: serviceConnection, names, log: silentLogger(), endpoints: { 'ready.check': async () => ({ ok: true }) } });
    const reply = await client.request(`${names.adminPrefix}.ready.check`, '{}', { timeout: 2_000 });
    expect(reply.json()).toEqual({ ok: true });
    await service.stop();
  });
});

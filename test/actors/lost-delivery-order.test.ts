import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountCommandClient } from '../../src/actors/command-client.js';
import { accountHistory } from '../../src/actors/audit-log.js';
import { partitionOf } from '../../src/actors/partition.js';
import type { TestEngine } from '../support/engine.js';
import { capturingLogger } from '../support/log.js';
import { startProxiedTestEngine } from '../support/proxied-engine.js';
import type { TcpProxy } from '../support/tcp-proxy.js';

let proxy: TcpProxy;
let t: TestEngine;
const captured = capturingLogger('warn');

beforeAll(async () => {
  ({ proxy, t } = await startProxiedTestEngine(captured.log));
});

afterAll(async () => {
  await t?.close();
  await proxy?.close();
});

describe('a command delivery lost in transit', () => {
  it('is handled before a later command of the same account, which the loss must not let overtake it', { timeout: 75_000 }, async () => {
    const userId = 'lost-in-transit';
    expect(await t.admin('account.create', { userId })).toMatchObject({ state: 'pending_kyc' });
    await t.admin('account.transition', { userId, target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' });
    expect(await t.admin('account.transition', { userId, target: 'active', reasonCode: 'first_deposit', authority: 'system', actorId: 'ledger' })).toMatchObject({ to: 'active' });

    const partitions = t.settings.COMMAND_PARTITIONS;
    const commands = new AccountCommandClient({ nc: t.client, js: jetstream(t.client), pool: t.pool, names: t.names, partitions, timeoutMs: 40_000 });
    // (Long: on a loaded machine the engine's reconnect and its consume's next pull can take seconds.)
    // The partition consumer's delivery of the next command is written by the server, counted as
    // delivered, and lost with the connection (the stray consumer reads the same stream: not it).
    const partitionConsumer = t.names.commandConsumer(partitionOf(userId, partitions));
    const dropped = proxy.dropConnectionOnServerBytes(`$JS.ACK.${t.names.commandStream}.${partitionConsumer}.`);
    const suspend = commands.send({ commandId: 'lost-1-suspend', userId, kind: 'transition', target: 'suspended', authority: 'system', reasonCode: 'dispute', actorId: 'ops' });
    suspend.catch(() => undefined);
    await dropped;

    // Legal only after the first: applied first, it is refused (active → active).
    const reactivate = await commands.send({ commandId: 'lost-2-reactivate', userId, kind: 'transition', target: 'active', authority: 'admin', reasonCode: 'dispute_closed', actorId: 'ops' });
    expect(reactivate).toMatchObject({ ok: true, from: 'suspended', to: 'active' });
    expect(await suspend).toMatchObject({ ok: true, from: 'active', to: 'suspended' });

    const history = await accountHistory(t.pool, userId);
    expect(history.map((row) => [row.commandId, row.to]).slice(-2)).toEqual([['lost-1-suspend', 'suspended'], ['lost-2-reactivate', 'active']]);
    expect(await t.admin('account.get', { userId })).toMatchObject({ state: 'active' });
    expect(captured.lines.filter((line) => line.event === 'intake.delivery_gap')).toEqual([
      expect.objectContaining({ partition: partitionOf(userId, partitions), expected: expect.any(Number), got: expect.any(Number) }),
    ]);
  });
});

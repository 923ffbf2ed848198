import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestEngine } from '../support/engine.js';
import { capturingLogger } from '../support/log.js';
import { startProxiedTestEngine } from '../support/proxied-engine.js';
import type { TcpProxy } from '../support/tcp-proxy.js';
import { until } from '../support/until.js';

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

describe('a stray command whose delivery to the stray sweep is lost in transit', () => {
  it('is still parked, though a later command is read and acked (AckAll) before ack_wait would redeliver it', { timeout: 75_000 }, async () => {
    const js = jetstream(t.client);
    const stray = t.names.subject('acct.cmd.99.lost-stray');
    // The stray sweep's delivery of the stray is written by the server, counted as delivered,
    // and lost with the connection (the partition consumers do not read that subject).
    const dropped = proxy.dropConnectionOnServerBytes(`$JS.ACK.${t.names.commandStream}.${t.names.commandStrayConsumer}.`);
    await js.publish(stray, JSON.stringify({ commandId: 'lost-stray', userId: 'lost-stray', kind: 'create', target: 'pending_kyc', authority: 'self', reasonCode: 'signup', actorId: 'lost-stray' }));
    await dropped;

    // A routed command after it: the sweep reads it and acks, which (AckAll) covers the lost one too.
    const created = await until('a signup after the loss', async () => {
      const reply = (await t.admin('account.create', { userId: 'after-lost-stray' }).catch(() => null)) as { state?: string } | null;
      return reply?.state === 'pending_kyc';
    }, 40_000, 500);
    expect(created).toBe(true);

    // Parked well before ack_wait (60 s) could have redelivered it.
    const parked = await until('the lost stray parked', async () => {
      const r = await t.pool.query<{ error: string }>('SELECT error FROM parked_commands WHERE subject = $1', [stray]);
      return r.rows[0];
    }, 40_000, 250);
    expect(parked.error).toMatch(/^no partition consumer reads /);
    expect(captured.lines.some((line) => line.event === 'intake.stray_delivery_gap')).toBe(true);
  });

  it('a sweep that fails (its consumer removed under it) starts again from the ack floor, and strays are still parked', { timeout: 60_000 }, async () => {
    const jsm = await jetstreamManager(t.client);
    await jsm.consumers.delete(t.names.commandStream, t.names.commandStrayConsumer);
    const stray = t.names.subject('acct.cmd.77.after-removal');
    await jetstream(t.client).publish(stray, JSON.stringify({ commandId: 'after-removal', userId: 'after-removal', kind: 'create', target: 'pending_kyc', authority: 'self', reasonCode: 'signup', actorId: 'after-removal' }));
    const parked = await until('the stray after the removal parked', async () => {
      const r = await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM parked_commands WHERE subject = $1', [stray]);
      return r.rows[0]!.n > 0 && r.rows[0]!.n;
    }, 30_000, 250);
    expect(parked).toBe(1); // parked once, though the recreated consumer read the stream again
    expect(captured.lines.some((line) => line.event === 'intake.stray_sweep_failed')).toBe(true);
    await until('the consumer recreated and drained', async () => {
      const info = await jsm.consumers.info(t.names.commandStream, t.names.commandStrayConsumer).catch(() => null);
      return info !== null && info.num_pending === 0 && info.num_ack_pending === 0;
    }, 30_000, 250);
  });

  it('reads the whole command stream with no filter subject, also once recreated (ADR 0036)', async () => {
    // A filter equal to the stream's subject makes NATS 2.9 count num_pending subject by subject
    // under the stream's lock at every info; publishes to the stream wait meanwhile.
    const info = await (await jetstreamManager(t.client)).consumers.info(t.names.commandStream, t.names.commandStrayConsumer);
    expect(info.config.filter_subject ?? '').toBe('');
    expect(info.config.filter_subjects ?? []).toEqual([]);
    expect(info.config.headers_only).toBe(true);
  });
});

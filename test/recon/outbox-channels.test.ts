import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { startLeaderDrainer } from '../../src/engine/outbox-drainers.js';
import { OutboxDrainer } from '../../src/recon/breaks/outbox.js';
import { durableWrites } from '../../src/recon/durable-writes.js';
import { reconLimits } from '../../src/recon/limits.js';
import { claimFence, FencedError, type Fence } from '../../src/supervisor/fence.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';

/**
 * One drainer over several outbox channels (the leader's, ADR 0020): each channel's rows go out
 * in order, a failing row holds nothing back, a round takes a page of each channel, and a
 * backlog is paged for its own channel.
 */
let database: TestDatabase;
let pool: Pool;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
const ns = testNamespace();
const stream = `OUTBOX_CHANNELS_${ns}`;
const subject = (channel: string): string => `${ns}.outbox.${channel}`;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool(database.url, 4);
  nc = await connect({ servers: sharedNatsUrl() });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${ns}.outbox.>`] });
});

afterAll(async () => {
  await jsm?.streams.delete(stream).catch(() => undefined);
  await nc?.close();
  await pool?.end();
  await database?.drop();
});

async function record(channel: string, count: number, msgPrefix: string, subjectOf = subject(channel)): Promise<void> {
  await pool.query(
    `INSERT INTO recon_outbox (boundary, break_id, effect, subject, payload, msg_id)
     SELECT $1, NULL, 'publish', $2, jsonb_build_object('n', n), $3 || n FROM generate_series(1, $4::int) AS n`,
    [channel, subjectOf, msgPrefix, count]);
}

async function publishedOn(channel: string): Promise<number[]> {
  const info = await jsm.streams.info(stream);
  const seen: number[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (msg?.subject === subject(channel)) seen.push((msg.json() as { n: number }).n);
  }
  return seen;
}

describe('one outbox drainer over several channels', () => {
  it('pages each channel apart, takes a page of each per round, keeps each channel in order, and a failing row holds nothing back', async () => {
    const backlog = reconLimits.outboxPendingMax + 1;
    await record('chan_a', backlog, 'a:');
    // No stream takes this subject: the publish fails, the rows after it still go.
    await record('chan_b', 1, 'b-lost:', `${ns}.nowhere`);
    await record('chan_b', 3, 'b:');
    const backlogs: Array<[string, number]> = [];
    const failures: unknown[] = [];
    const drainer = new OutboxDrainer({
      channels: ['chan_a', 'chan_b', 'chan_idle'], pool, js, writes: durableWrites(pool, null), log: silentLogger(),
      onBacklog: (channel, pending) => backlogs.push([channel, pending]),
      onWriteFailed: (error) => failures.push(error),
    });
    await drainer.kick(); // one round, no timer

    expect(failures).toEqual([]);
    expect(backlogs).toEqual([['chan_a', backlog]]);
    // chan_a's backlog did not hold chan_b back: one page of chan_a, all of chan_b but the lost row.
    const { rows } = await pool.query<{ boundary: string; done: number; pending: number }>(
      `SELECT boundary, count(*) FILTER (WHERE done_at IS NOT NULL)::int AS done, count(*) FILTER (WHERE done_at IS NULL)::int AS pending
         FROM recon_outbox GROUP BY boundary ORDER BY boundary`);
    expect(rows).toEqual([
      { boundary: 'chan_a', done: reconLimits.outboxBatchMax, pending: backlog - reconLimits.outboxBatchMax },
      { boundary: 'chan_b', done: 3, pending: 1 },
    ]);
    expect(drainer.pending).toBe(backlog - reconLimits.outboxBatchMax + 1);
    const lost = await pool.query<{ attempts: number; last_error: string | null }>("SELECT attempts, last_error FROM recon_outbox WHERE msg_id = 'b-lost:1'");
    expect(lost.rows[0]?.attempts).toBe(1);
    expect(lost.rows[0]?.last_error).toBeTruthy();
    expect(await publishedOn('chan_b')).toEqual([1, 2, 3]);
    expect(await publishedOn('chan_a')).toEqual(Array.from({ length: reconLimits.outboxBatchMax }, (_, i) => i + 1));
  }, 120_000);

  it('run by the leader, a mark refused by the fence steps it down', async () => {
    await pool.query('DELETE FROM recon_outbox');
    const fence: Fence = { lease: 'outbox-channels', token: 1, holder: 'old' };
    await claimFence(pool, fence);
    await record('chan_c', 1, 'c:');
    await claimFence(pool, { lease: 'outbox-channels', token: 2, holder: 'new' });
    const fenced: FencedError[] = [];
    const drainer = startLeaderDrainer(['chan_c'], { pool, js, writes: durableWrites(pool, fence), log: silentLogger(), onFenced: (error) => fenced.push(error) });
    await drainer.stop();
    expect(fenced.length).toBeGreaterThan(0);
    expect(fenced[0]).toBeInstanceOf(FencedError);
    expect((await pool.query("SELECT 1 FROM recon_outbox WHERE msg_id = 'c:1' AND done_at IS NULL")).rowCount).toBe(1);
  });
});

import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/actors/partition.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine();
});
afterAll(async () => {
  await t?.close();
});

async function parkedCount(): Promise<number> {
  return (await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM parked_commands WHERE stream = $1', [t.names.commandStream])).rows[0]?.n ?? 0;
}

describe('command intake', () => {
  it('parks what can never be a valid command (kept with its error, acked, never dropped) and goes on', async () => {
    const js = jetstream(t.client);
    const partitions = t.settings.COMMAND_PARTITIONS;
    const subjectOf = (userId: string): string => t.names.commandSubject(partitionOf(userId, partitions), userId);
    await js.publish(subjectOf('zed'), 'not json at all');
    await js.publish(subjectOf('zed'), JSON.stringify({ commandId: 'c1', userId: 'zed', kind: 'create', target: 'frozen', authority: 'self', reasonCode: 'x', actorId: 'a' }));
    // Right shape, wrong partition: it would bypass the account's ordering.
    const wrongPartition = (partitionOf('zed', partitions) + 1) % partitions;
    await js.publish(t.names.commandSubject(wrongPartition, 'zed'), JSON.stringify({ commandId: 'c2', userId: 'zed', kind: 'create', target: 'pending_kyc', authority: 'self', reasonCode: 'signup', actorId: 'zed' }));

    const deadline = Date.now() + 10_000;
    while ((await parkedCount()) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const rows = await t.pool.query<{ error: string; payload: string }>('SELECT error, payload FROM parked_commands WHERE stream = $1 ORDER BY stream_seq', [t.names.commandStream]);
    expect(rows.rows.map((r) => r.error)).toEqual([
      'payload is not JSON',
      expect.stringMatching(/^target: /),
      expect.stringMatching(/^command for zed must be sent on /),
    ]);
    expect(rows.rows[0]?.payload).toBe('not json at all');

    // The partition is not stuck behind them.
    expect(await t.admin('account.create', { userId: 'zed' })).toMatchObject({ userId: 'zed', state: 'pending_kyc' });
    const listed = (await t.admin('parked.list', {})) as { parked: unknown[] };
    expect(listed.parked).toHaveLength(3);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandIntake } from '../../src/actors/command-intake.js';
import { partitionIntakeBed, settleSignup, type PartitionIntakeBed } from '../support/partition-intake.js';
import { until } from '../support/until.js';

/**
 * ADR 0038: a partition that took nothing new between two restarts is rewound past what it
 * handled, not to the stream's first message. NATS 2.9 reports an ack floor of 0 for a consumer
 * that has acked nothing since its creation at a start sequence; read as is, every other restart
 * of an idle partition replayed its whole history (each command answered again from the audit
 * table, its reply published again).
 */
let bed: PartitionIntakeBed;

beforeAll(async () => {
  bed = await partitionIntakeBed(16, 0);
});

afterAll(async () => {
  await bed?.close();
});

/** An intake whose supervisor notes each command's user and settles it at once. */
function startIntake(seen: string[]): Promise<CommandIntake> {
  return bed.startIntake(async (delivery) => {
    seen.push(delivery.key);
    settleSignup(delivery);
  });
}

describe('an idle partition across restarts', () => {
  it('takes only what is new, restart after restart', { timeout: 30_000 }, async () => {
    const users = bed.users('idle');
    expect(users.length).toBeGreaterThanOrEqual(6);
    await bed.publish(users.slice(0, 3));
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
      await bed.publish([user]);
      await until(`restart ${restart}: the new command handled`, () => seen.includes(user));
      await intake.stop();
      expect(seen, `restart ${restart}`).toEqual([user]);
    }
  });
});

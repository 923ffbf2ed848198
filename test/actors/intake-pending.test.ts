import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionIntakeBed, settleSignup, type PartitionIntakeBed } from '../support/partition-intake.js';
import { until } from '../support/until.js';

/**
 * A partition's pending count, as /metrics serves it (ADR 0037): the intake's own, from the
 * server's stamp on each delivery, while that is current; null (ask the server) while the intake
 * is held up, so a stalled partition never shows a stale 0.
 */
let bed: PartitionIntakeBed;

beforeAll(async () => {
  bed = await partitionIntakeBed(16, 0);
});

afterAll(async () => {
  await bed?.close();
});

describe('a command intake\'s pending count', () => {
  it('is the server\'s, kept current by each delivery while the intake flows; unknown while a hand-over holds it up', { timeout: 30_000 }, async () => {
    const delivered: string[] = [];
    let release: () => void = () => undefined;
    let held: Promise<void> | null = new Promise<void>((resolve) => {
      release = resolve;
    });
    const users = bed.users('pend');
    expect(users.length).toBeGreaterThanOrEqual(6);
    await bed.publish(users.slice(0, 3));
    const intake = await bed.startIntake(async (delivery) => {
      delivered.push(delivery.key);
      // The first hand-over waits (a full mailbox, say) until released.
      if (held) await held;
      settleSignup(delivery);
    });
    try {
      await until('the first command handed on', () => delivered.length === 1);
      // Taken 2 of 3 behind it into the pull's buffer: the count says so while it is fresh, then is unknown.
      await new Promise((r) => setTimeout(r, 1_200));
      expect(intake.pendingWhileFlowing()).toBeNull();

      held = null;
      release();
      await until('the three handed on and the count current again', () => delivered.length === 3 && intake.pendingWhileFlowing() === 0);

      // Flowing: what arrives is delivered at once and the count follows, with no question to the server.
      const infoRequests: string[] = [];
      const watch = bed.nc.subscribe(`$JS.API.CONSUMER.INFO.${bed.names.commandStream}.>`, { callback: (_e, msg) => void infoRequests.push(msg.subject) });
      await bed.nc.flush();
      await bed.publish(users.slice(3, 6));
      await until('three more handed on', () => delivered.length === 6);
      expect(intake.pendingWhileFlowing()).toBe(0);
      watch.unsubscribe();
      expect(infoRequests).toEqual([]);
      expect(delivered).toEqual(users.slice(0, 6));
    } finally {
      release();
      await intake.stop();
    }
  });
});

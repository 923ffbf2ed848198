import { describe, expect, it } from 'vitest';
import type { BreakRegistry } from '../../src/recon/breaks/break-registry.js';
import { PositionCapAlarm } from '../../src/recon/me-db/judgement.js';

/** What the alarm asks of the registry: a page raised, a page resolved. */
function recordingRegistry(): { registry: BreakRegistry; raised: string[]; resolved: string[] } {
  const raised: string[] = [];
  const resolved: string[] = [];
  const registry = {
    raiseMeta: async (b: { key: string }) => void raised.push(b.key),
    resolve: async (_kind: string, key: string) => void resolved.push(key),
  } as unknown as BreakRegistry;
  return { registry, raised, resolved };
}

const over = { inMemory: 590, underCap: false, keptDirty: 0 };
const under = { inMemory: 90, underCap: true, keptDirty: 0 };

describe('the position-cap alarm (ADR 0026)', () => {
  it('pages once the book has been over its cap with nothing evictable for the grace window', async () => {
    const { registry, raised, resolved } = recordingRegistry();
    const alarm = new PositionCapAlarm(registry, 100, 1_000, 60_000);
    await alarm.judge(over, 0, false);
    await alarm.judge(over, 999, false);
    expect(raised).toEqual([]);
    await alarm.judge(over, 1_000, false);
    expect(raised).toEqual(['positions']);
    await alarm.judge(under, 1_500, false);
    expect(resolved).toEqual(['positions']);
  });

  it('while a side is behind the differences are in flight: the grace counts from when both sides are read through', async () => {
    const { registry, raised } = recordingRegistry();
    const alarm = new PositionCapAlarm(registry, 100, 1_000, 60_000);
    await alarm.judge(over, 0, true);
    await alarm.judge(over, 30_000, true);
    expect(raised).toEqual([]);
    // Read through and still over the cap: a grace window from now, not from when it went over.
    await alarm.judge(over, 30_001, false);
    await alarm.judge(over, 30_999, false);
    expect(raised).toEqual([]);
    // Behind again (new events): the count stops; read through again: it starts again.
    await alarm.judge(over, 31_500, true);
    await alarm.judge(over, 31_600, false);
    await alarm.judge(over, 32_599, false);
    expect(raised).toEqual([]);
    await alarm.judge(over, 32_600, false);
    expect(raised).toEqual(['positions']);
  });

  it('pages while a side is behind too, once the book has been over its cap past the longer allowance (a reconciler that never catches up)', async () => {
    const { registry, raised } = recordingRegistry();
    const alarm = new PositionCapAlarm(registry, 100, 1_000, 60_000);
    await alarm.judge(over, 0, true);
    await alarm.judge(over, 59_999, true);
    expect(raised).toEqual([]);
    await alarm.judge(over, 60_000, true);
    expect(raised).toEqual(['positions']);
  });

  it('a book back under its cap starts the count again', async () => {
    const { registry, raised } = recordingRegistry();
    const alarm = new PositionCapAlarm(registry, 100, 1_000, 60_000);
    await alarm.judge(over, 0, false);
    await alarm.judge(under, 900, false);
    await alarm.judge(over, 950, false);
    await alarm.judge(over, 1_900, false);
    expect(raised).toEqual([]);
  });
});

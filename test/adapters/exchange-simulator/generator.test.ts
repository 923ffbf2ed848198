import { describe, expect, it } from 'vitest';
import { BalanceRegistry } from '../../../src/adapters/exchange-simulator/balance-registry.js';
import { DelayQueue } from '../../../src/adapters/exchange-simulator/delay-queue.js';
import { FaultBook } from '../../../src/adapters/exchange-simulator/faults.js';
import { OperationGenerator, type GeneratedOperation } from '../../../src/adapters/exchange-simulator/operation-generator.js';
import { houseCustody, houseFees, journalImbalance, type Journal } from '../../../src/adapters/exchange-simulator/operation.js';
import { Prng } from '../../../src/adapters/exchange-simulator/prng.js';

const config = { userIds: ['u1', 'u2', 'u3', 'u4', 'u5'], currencies: ['BTC', 'ETH', 'USDT'], runTag: 'test' };
const serialise = (value: unknown): string => JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

function run(seed: number, count: number): { ops: GeneratedOperation[]; generator: OperationGenerator } {
  const generator = new OperationGenerator(new Prng(seed), config);
  return { ops: Array.from({ length: count }, () => generator.next()), generator };
}

describe('Prng (xoshiro128**)', () => {
  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const draw = (seed: number) => {
      const p = new Prng(seed);
      return Array.from({ length: 64 }, () => p.nextUint32());
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(draw(0).some((x) => x !== 0)).toBe(true);
  });

  it('stays inside its ranges and covers them', () => {
    const p = new Prng(1);
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 6_000; i++) counts[p.intBelow(6)]! += 1;
    for (const c of counts) expect(c).toBeGreaterThan(800);
    for (let i = 0; i < 1_000; i++) {
      const x = p.bigintBelow(10n ** 30n);
      expect(x >= 0n && x < 10n ** 30n).toBe(true);
    }
  });
});

describe('BalanceRegistry', () => {
  it('keeps total = locked + available and refuses a change that would go negative, whole', () => {
    const r = new BalanceRegistry();
    r.apply([{ userId: 'a', currency: 'BTC', availableDeltaMinor: 10n, lockedDeltaMinor: 0n }]);
    r.apply([{ userId: 'a', currency: 'BTC', availableDeltaMinor: -4n, lockedDeltaMinor: 4n }]);
    expect(r.get('a', 'BTC')).toEqual({ userId: 'a', currency: 'BTC', totalMinor: 10n, lockedMinor: 4n, availableMinor: 6n });
    expect(() =>
      r.apply([
        { userId: 'b', currency: 'BTC', availableDeltaMinor: 5n, lockedDeltaMinor: 0n },
        { userId: 'a', currency: 'BTC', availableDeltaMinor: -7n, lockedDeltaMinor: 0n },
      ]),
    ).toThrow(/available would go negative/);
    expect(r.get('b', 'BTC').totalMinor).toBe(0n);
  });
});

describe('DelayQueue', () => {
  it('releases in order once due, and a lowered delay releases what waits at once', () => {
    const q = new DelayQueue<string>(10, 100);
    q.push('a', 0);
    q.push('b', 50);
    expect(q.takeDue(99)).toEqual([]);
    expect(q.takeDue(100)).toEqual(['a']);
    q.delayMs = 0;
    q.push('c', 120);
    expect(q.takeDue(120)).toEqual(['b', 'c']);
    expect(() => {
      for (let i = 0; i < 11; i++) q.push(`x${i}`, 0);
    }).toThrow(/full/);
  });
});

describe('OperationGenerator', () => {
  it('is deterministic given the seed', () => {
    expect(serialise(run(42, 3_000).ops)).toBe(serialise(run(42, 3_000).ops));
    expect(serialise(run(42, 300).ops)).not.toBe(serialise(run(43, 300).ops));
  });

  it('makes every kind of operation, balanced journals, and books exactly what the engine holds', () => {
    const { ops, generator } = run(7, 20_000);
    const kinds = new Set(ops.map((op) => op.kind));
    expect([...kinds].sort()).toEqual(['cancel', 'deposit', 'order', 'trade', 'withdrawal', 'withdrawal_request']);

    // Fold the journals into a ledger: every non-house balance must equal the engine's total.
    const ledger = new Map<string, bigint>();
    for (const op of ops) {
      if (!op.journal) continue;
      expect(journalImbalance(op.journal)).toBeNull();
      for (const e of op.journal.entries) ledger.set(`${e.userId}/${e.currency}`, (ledger.get(`${e.userId}/${e.currency}`) ?? 0n) + e.amountMinor);
    }
    for (const row of generator.planned.rows()) {
      expect(row.totalMinor).toBeGreaterThanOrEqual(0n);
      expect(ledger.get(`${row.userId}/${row.currency}`) ?? 0n).toBe(row.totalMinor);
    }
    // Fees went to the house; the house's custody account is the other side of net deposits.
    expect([...ledger.entries()].some(([k, v]) => k.startsWith(`${houseFees}/`) && v > 0n)).toBe(true);
    expect([...ledger.entries()].some(([k, v]) => k.startsWith(`${houseCustody}/`) && v < 0n)).toBe(true);
  });

  it('books a trade as trade and fee entries on one journal, with the fees to house:fees', () => {
    const trade = run(7, 5_000).ops.find((op) => op.kind === 'trade' && op.journal?.entries.some((e) => e.referenceType === 'fee'));
    expect(trade).toBeDefined();
    const types = new Set(trade?.journal?.entries.map((e) => e.referenceType));
    expect(types).toEqual(new Set(['trade', 'fee']));
    expect(trade?.journal?.entries.filter((e) => e.userId === houseFees).every((e) => e.amountMinor > 0n)).toBe(true);
    expect(trade?.engine).toHaveLength(4);
  });
});

describe('FaultBook', () => {
  const journal = (id: string, userId: string, amountMinor: bigint): Journal => ({
    journalId: id,
    entries: [
      { userId, currency: 'BTC', amountMinor, referenceType: 'deposit', referenceId: id },
      { userId: houseCustody, currency: 'BTC', amountMinor: -amountMinor, referenceType: 'deposit', referenceId: id },
    ],
  });

  it('drops the next N journals of a user and reports what the ledger lacks; the fix is those journals', async () => {
    const book = new FaultBook('t');
    const handle = book.armDrop({ userId: 'u2', journalCount: 2 });
    expect(book.takeDrop(journal('j1', 'u1', 5n))).toBe(false);
    expect(book.takeDrop(journal('j2', 'u2', 7n))).toBe(true);
    expect(handle.report()).toMatchObject({ settled: false, discrepancies: [{ userId: 'u2', currency: 'BTC', deltaMinor: 7n }] });
    expect(book.takeDrop(journal('j3', 'u2', 3n))).toBe(true);
    expect(book.takeDrop(journal('j4', 'u2', 1n))).toBe(false);
    expect(await handle.settled).toMatchObject({ settled: true, fixed: false, discrepancies: [{ userId: 'u2', currency: 'BTC', deltaMinor: 10n }] });
    expect(book.fixJournals(handle.faultId).map((j) => j.journalId)).toEqual(['j2', 'j3']);
    expect(book.markFixed(handle.faultId).fixed).toBe(true);
    expect(book.openDiscrepancies()).toEqual([]);
  });

  it('compensates an engine-only change with a balanced admin adjustment', () => {
    const book = new FaultBook('t');
    const handle = book.recordEngineOnly({ userId: 'u1', currency: 'ETH', deltaMinor: -9n });
    const [fix] = book.fixJournals(handle.faultId);
    expect(fix && journalImbalance(fix)).toBeNull();
    expect(fix?.entries).toEqual([
      { userId: 'u1', currency: 'ETH', amountMinor: -9n, referenceType: 'admin_adjustment', referenceId: handle.faultId },
      { userId: houseCustody, currency: 'ETH', amountMinor: 9n, referenceType: 'admin_adjustment', referenceId: handle.faultId },
    ]);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  balanceEventWireOf,
  parseBalanceEvent,
  parseSnapshotReply,
  snapshotReplySchema,
  userIdOfBalanceSubject,
  type BalanceEvent,
} from '../../../src/adapters/matching-engine/contract.js';
import { natsNames } from '../../../src/nats/names.js';

const unit = 10n ** 18n;
const good = {
  seq: 17,
  userId: 'alice',
  currency: 'BTC',
  total: '1.5',
  locked: '0.25',
  available: '1.25',
  ts: '2024-11-25T12:00:00.000Z',
};

const rejected = (input: unknown, options?: { subjectUserId?: string }): { code: string; reason: string } => {
  const result = parseBalanceEvent(input, options);
  if (result.ok) throw new Error(`expected a rejection, got ${JSON.stringify(result.event, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
  return { code: result.code, reason: result.reason };
};

describe('parseBalanceEvent (me.balance.<userId>, docs/contract.md §7)', () => {
  it('parses a good event into bigint minor units at 18 decimals', () => {
    const result = parseBalanceEvent(good);
    expect(result).toEqual({
      ok: true,
      event: {
        seq: 17,
        userId: 'alice',
        currency: 'BTC',
        totalMinor: (3n * unit) / 2n,
        lockedMinor: unit / 4n,
        availableMinor: (5n * unit) / 4n,
        tsMs: Date.parse(good.ts),
      },
    });
  });

  it('accepts the payload as JSON text, as bytes, or already parsed', () => {
    const text = JSON.stringify(good);
    expect(parseBalanceEvent(text)).toEqual(parseBalanceEvent(good));
    expect(parseBalanceEvent(new TextEncoder().encode(text))).toEqual(parseBalanceEvent(good));
  });

  it('accepts ts as epoch milliseconds and as ISO-8601 with an offset', () => {
    expect(parseBalanceEvent({ ...good, ts: 1_732_536_000_000 })).toMatchObject({ ok: true, event: { tsMs: 1_732_536_000_000 } });
    expect(parseBalanceEvent({ ...good, ts: '2024-11-25T13:00:00+01:00' })).toMatchObject({ ok: true, event: { tsMs: Date.parse(good.ts) } });
  });

  it('accepts the extremes of numeric(38,18): 18 decimals, 20 integer digits, zero', () => {
    const max = `${'9'.repeat(20)}.${'9'.repeat(18)}`;
    expect(parseBalanceEvent({ ...good, total: max, locked: '0', available: max })).toMatchObject({ ok: true });
    expect(parseBalanceEvent({ ...good, total: '0.000000000000000001', locked: '0', available: '0.000000000000000001' })).toMatchObject({
      ok: true,
      event: { totalMinor: 1n },
    });
    expect(parseBalanceEvent({ ...good, total: '0', locked: '0', available: '0' })).toMatchObject({ ok: true });
  });

  it('rejects what is not JSON', () => {
    expect(rejected('{"seq": 1,')).toMatchObject({ code: 'INVALID_JSON' });
    expect(rejected(new Uint8Array([0xff, 0xfe, 0x00]))).toMatchObject({ code: 'INVALID_JSON' });
  });

  it.each([
    ['null', null],
    ['an array', [good]],
    ['a missing field', { ...good, available: undefined }],
    ['seq 0', { ...good, seq: 0 }],
    ['a negative seq', { ...good, seq: -3 }],
    ['a fractional seq', { ...good, seq: 1.5 }],
    ['an unsafe seq', { ...good, seq: 2 ** 53 }],
    ['seq as a string', { ...good, seq: '17' }],
    ['an amount as a JSON number', { ...good, total: 1.5 }],
    ['an empty userId', { ...good, userId: '' }],
    ['a userId with a dot (a subject token)', { ...good, userId: 'a.b' }],
    ['a userId of 65 characters', { ...good, userId: 'u'.repeat(65) }],
    ['an empty currency', { ...good, currency: '' }],
    ['ts that is not a time', { ...good, ts: 'yesterday' }],
  ])('rejects %s as INVALID_SHAPE', (_, payload) => {
    expect(rejected(payload).code).toBe('INVALID_SHAPE');
  });

  it('rejects total ≠ locked + available, naming the three amounts', () => {
    const { code, reason } = rejected({ ...good, total: '1.5', locked: '0.25', available: '1.2' });
    expect(code).toBe('TOTAL_MISMATCH');
    expect(reason).toBe('total 1.5 ≠ locked 0.25 + available 1.2');
  });

  it('rejects negative amounts, even when the sum would hold', () => {
    const { code, reason } = rejected({ ...good, total: '1', locked: '-1', available: '2' });
    expect(code).toBe('INVALID_SHAPE');
    expect(reason).toMatch(/locked: must not be negative/);
  });

  it('rejects more than 18 decimals (never rounds)', () => {
    const { code, reason } = rejected({ ...good, total: '1.0000000000000000001', locked: '0', available: '1.0000000000000000001' });
    expect(code).toBe('INVALID_SHAPE');
    expect(reason).toMatch(/total: has more than 18 decimals/);
  });

  it.each([
    ['an exponent', '1e3'],
    ['a plus sign', '+1'],
    ['a bare fraction', '.5'],
    ['a trailing dot', '1.'],
    ['spaces', ' 1'],
    ['leading zeros', '01.5'],
    ['21 integer digits', '1'.repeat(21)],
    ['a comma', '1,5'],
    ['NaN', 'NaN'],
  ])('rejects an amount with %s', (_, amount) => {
    expect(rejected({ ...good, total: amount, locked: '0', available: amount }).code).toBe('INVALID_SHAPE');
  });

  it('rejects a payload whose userId differs from the subject', () => {
    expect(rejected(good, { subjectUserId: 'bob' })).toMatchObject({ code: 'SUBJECT_MISMATCH' });
    expect(parseBalanceEvent(good, { subjectUserId: 'alice' }).ok).toBe(true);
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.string(), fc.uint8Array(), fc.anything()), (input) => {
        const result = parseBalanceEvent(input);
        expect(typeof result.ok).toBe('boolean');
      }),
      { numRuns: 2_000 },
    );
  });

  it('round-trips every encodable event through the wire format', () => {
    const amount = fc.bigInt({ min: 0n, max: 10n ** 37n });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), amount, amount, fc.integer({ min: 0, max: 4_102_444_800_000 }), (seq, lockedMinor, availableMinor, tsMs) => {
        const event: BalanceEvent = { seq, userId: 'u_1-x', currency: 'USDT', lockedMinor, availableMinor, totalMinor: lockedMinor + availableMinor, tsMs };
        expect(parseBalanceEvent(JSON.stringify(balanceEventWireOf(event)))).toEqual({ ok: true, event });
      }),
    );
  });

  it('refuses to encode an event that breaks the invariant', () => {
    expect(() => balanceEventWireOf({ seq: 1, userId: 'a', currency: 'BTC', totalMinor: 2n, lockedMinor: 0n, availableMinor: 1n, tsMs: 0 })).toThrow(/total/);
  });

  it('reads the userId off a namespaced subject', () => {
    expect(userIdOfBalanceSubject(natsNames('t1').meBalanceSubject('alice'))).toBe('alice');
    expect(userIdOfBalanceSubject(natsNames('').meBalanceSubject('bob'))).toBe('bob');
  });
});

describe('parseSnapshotReply (me.snapshot)', () => {
  const row = { userId: 'alice', currency: 'BTC', total: '2', locked: '0.5', available: '1.5' };

  it('parses a chunk into bigint rows', () => {
    expect(parseSnapshotReply({ requestId: 'r1', asOfSeq: 9, chunk: 0, last: true, balances: [row] })).toEqual({
      ok: true,
      kind: 'chunk',
      chunk: { requestId: 'r1', asOfSeq: 9, chunk: 0, last: true, balances: [{ userId: 'alice', currency: 'BTC', totalMinor: 2n * unit, lockedMinor: unit / 2n, availableMinor: (3n * unit) / 2n }] },
    });
  });

  it('parses the engine’s refusal', () => {
    expect(parseSnapshotReply({ requestId: 'r1', error: { code: 'BUSY', message: 'later' } })).toEqual({ ok: true, kind: 'error', error: { code: 'BUSY', message: 'later' } });
  });

  it('rejects a row that breaks total = locked + available, and a malformed chunk', () => {
    expect(parseSnapshotReply({ requestId: 'r1', asOfSeq: 9, chunk: 0, last: true, balances: [{ ...row, total: '3' }] })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/balances\.0 .*total 3 ≠ locked 0\.5 \+ available 1\.5/),
    });
    expect(parseSnapshotReply({ requestId: 'r1', asOfSeq: -1, chunk: 0, last: true, balances: [] })).toMatchObject({ ok: false });
    expect(parseSnapshotReply('not json')).toMatchObject({ ok: false });
  });

  it('reads a chunk by hand exactly as the schema would: the same rows accepted, with the same values', () => {
    // Mostly well-formed (so that many chunks are accepted), with every kind of malformed field mixed in.
    const plain = fc.bigInt({ min: 0n, max: 10n ** 38n - 1n }).map((minor) => {
      const digits = minor.toString().padStart(19, '0');
      const fraction = digits.slice(-18).replace(/0+$/, '');
      return `${digits.slice(0, -18)}${fraction ? `.${fraction}` : ''}`;
    });
    const amount = fc.oneof(
      { arbitrary: plain, weight: 12 },
      { arbitrary: fc.constantFrom('0', '01', '1.', '.5', '-1', ' 1', '1 ', '1e3', '', '0.0000000000000000001', '1'.repeat(21), '1'.repeat(20), '+1', '١'), weight: 1 },
      { arbitrary: fc.string({ maxLength: 6 }), weight: 1 },
      { arbitrary: fc.integer(), weight: 1 },
    );
    const name = fc.oneof(
      { arbitrary: fc.constantFrom('alice', 'a'.repeat(64), 'BTC', 'u_1-x'), weight: 12 },
      { arbitrary: fc.constantFrom('a'.repeat(65), 'a.b', 'a b', '', 'x'.repeat(33)), weight: 1 },
      { arbitrary: fc.string({ maxLength: 4 }), weight: 1 },
      { arbitrary: fc.constant(7), weight: 1 },
    );
    const wireRow = fc.record({ userId: name, currency: name, total: amount, locked: amount, available: amount });
    // Mostly consistent rows (available = total, nothing locked), some with any three amounts.
    const rowArb = fc.oneof(
      { arbitrary: fc.record({ userId: name, currency: name, total: amount }).map((r) => ({ ...r, locked: '0', available: r.total })), weight: 8 },
      { arbitrary: wireRow, weight: 1 },
    );
    const chunkArb = fc.record({
      requestId: fc.oneof({ arbitrary: fc.constant('r1'), weight: 8 }, { arbitrary: fc.string({ maxLength: 3 }), weight: 1 }),
      asOfSeq: fc.oneof({ arbitrary: fc.nat(), weight: 8 }, { arbitrary: fc.constantFrom(-1, 1.5), weight: 1 }),
      chunk: fc.nat(),
      last: fc.oneof({ arbitrary: fc.boolean(), weight: 8 }, { arbitrary: fc.constant('yes'), weight: 1 }),
      balances: fc.array(rowArb, { maxLength: 4 }),
    });
    let acceptedWithRows = 0;
    fc.assert(fc.property(chunkArb, (chunk) => {
      const schema = snapshotReplySchema.safeParse(chunk);
      const parsed = parseSnapshotReply(JSON.stringify(chunk));
      if (!schema.success || 'error' in schema.data) {
        expect(parsed.ok).toBe(false);
        return;
      }
      const rows = schema.data.balances;
      if (rows.some((r) => r.total !== r.locked + r.available)) {
        expect(parsed.ok).toBe(false);
        return;
      }
      expect(parsed).toEqual({
        ok: true, kind: 'chunk',
        chunk: {
          requestId: schema.data.requestId, asOfSeq: schema.data.asOfSeq, chunk: schema.data.chunk, last: schema.data.last,
          balances: rows.map((r) => ({ userId: r.userId, currency: r.currency, totalMinor: r.total, lockedMinor: r.locked, availableMinor: r.available })),
        },
      });
      if (rows.length > 0) acceptedWithRows++;
    }), { numRuns: 2_000 });
    expect(acceptedWithRows).toBeGreaterThan(50);
  });
});

import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/actors/partition.js';
import { userIdSchema } from '../../src/actors/identifiers.js';
import { parseBalanceEvent, userIdOfBalanceSubject } from '../../src/adapters/matching-engine/contract.js';
import { parseFill } from '../../src/adapters/matching-engine/fill-contract.js';
import { parseComplianceEvent } from '../../src/adapters/compliance/contract.js';
import { ownAdminInfo } from '../support/admin-info.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { until } from '../support/until.js';

const partitions = 4;
const accounts = ['fz0', 'fz1', 'fz2', 'fz3', 'fz4', 'fz5'];
let t: TestEngine;
let js: JetStreamClient;

/** KV entries, ledger and audit as they stand: the fuzz must leave all three unchanged. */
async function books(): Promise<unknown> {
  const kv = await new Kvm(t.client).open(t.names.accountsBucket);
  const entries: Record<string, number> = {};
  for await (const key of await kv.keys()) entries[key] = (await kv.get(key))?.revision ?? -1;
  const ledger = (await t.pool.query('SELECT count(*)::int AS n, coalesce(sum(amount), 0)::text AS total FROM ledger_entries')).rows[0];
  const audit = (await t.pool.query('SELECT count(*)::int AS n, coalesce(max(id), 0)::text AS last FROM account_state_transitions')).rows[0];
  return { entries, ledger, audit };
}

const token = fc.stringMatching(/^[A-Za-z0-9_-]{1,24}$/);
const nulText = fc.string({ maxLength: 20 }).map((s) => `${s}\u0000${s}`);
const text = fc.oneof(fc.string({ maxLength: 40 }), nulText, fc.constantFrom('', ' ', '{', 'null', '[]', '"x"', '1e309', '-0'));
const looseValue = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }));
/** Payloads: raw bytes, text, any JSON, and objects shaped like the real messages with wrong values. */
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  text.map((s) => new TextEncoder().encode(s)),
  fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v))),
  fc.record({
    commandId: looseValue, userId: fc.oneof(looseValue, fc.constantFrom(...accounts)), kind: fc.oneof(looseValue, fc.constantFrom('create', 'transition')),
    target: fc.oneof(looseValue, fc.constantFrom('active', 'suspended', 'banned')), authority: fc.oneof(looseValue, fc.constantFrom('self', 'admin', 'system')),
    reasonCode: looseValue, actorId: looseValue, replyTo: looseValue,
    seq: fc.oneof(fc.integer(), fc.constantFrom(Number.MAX_SAFE_INTEGER, -1, 0, 1.5)), currency: looseValue,
    total: looseValue, locked: looseValue, available: looseValue, ts: looseValue, breakId: looseValue, boundary: looseValue, reason: looseValue, target_: looseValue,
  }, { requiredKeys: [] }).map((o) => new TextEncoder().encode(JSON.stringify(o))),
);
const commandSubject = fc.tuple(fc.oneof(fc.integer({ min: 0, max: partitions - 1 }), fc.integer({ min: partitions, max: 999 }), fc.constantFrom('00', '01', 'x')), token, fc.option(token))
  .map(([p, user, extra]) => `acct.cmd.${p}.${user}${extra ? `.${extra}` : ''}`);

/** A JSON body an admin endpoint could accept and act on: left out (a valid request may change things). */
function couldApply(endpoint: string, bytes: Uint8Array): boolean {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return false;
  }
  if (typeof body !== 'object' || body === null) return false;
  const userId = (body as { userId?: unknown }).userId;
  if (endpoint.endsWith('account.create')) return userIdSchema.safeParse(userId).success;
  if (endpoint.endsWith('account.transition')) return typeof userId === 'string' && accounts.includes(userId);
  return false;
}

beforeAll(async () => {
  t = await startTestEngine({ COMMAND_PARTITIONS: String(partitions), RECON_GRACE_MS: '500' });
  js = jetstream(t.client);
  await until('leader', () => t.engine.isLeader());
  for (const userId of accounts) await t.admin('account.create', { userId });
  await t.pool.query(
    `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
     VALUES ('j-fz', 'fz0', 'BTC', 1, 'deposit', 'd'), ('j-fz', 'house:custody', 'BTC', -1, 'deposit', 'd')`);
});

afterAll(async () => {
  await t?.close();
});

describe('fuzzing every consumed subject and every admin endpoint', () => {
  it('the engine stays up, every partition keeps moving, and KV, the ledger and the audit table are unchanged', async () => {
    // Ours among every recon-admin running (taking the first answer fuzzed another test's engine,
    // which then stopped: "no responders").
    const adminSubjects = ((await ownAdminInfo(t.client, t.names))?.endpoints ?? []).map((e) => e.subject);
    expect(adminSubjects.every((subject) => subject.startsWith(`${t.names.adminPrefix}.`))).toBe(true);
    expect(adminSubjects.length).toBeGreaterThanOrEqual(10);
    const before = await books();

    let sent = 0;
    await fc.assert(fc.asyncProperty(commandSubject, payload, async (subject, bytes) => {
      await js.publish(t.names.subject(subject), bytes);
      sent++;
    }), { numRuns: 300, seed: 7 });
    await js.publish(t.names.meBalanceSubject('fz0'), JSON.stringify({ seq: Number.MAX_SAFE_INTEGER, userId: 'fz0', currency: 'BTC', total: '1', locked: '0', available: '1', ts: new Date().toISOString() }));
    await fc.assert(fc.asyncProperty(fc.oneof(token, fc.constantFrom(...accounts)), payload, async (user, bytes) => {
      const subject = t.names.meBalanceSubject(user);
      let json: unknown = null;
      try {
        json = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        // not JSON: sent as is
      }
      // A well-formed event is the engine's word, not poison: applying it may rightly change things.
      fc.pre(json === null || !parseBalanceEvent(json, { subjectUserId: userIdOfBalanceSubject(subject) }).ok);
      await js.publish(subject, bytes);
      sent++;
    }), { numRuns: 200, seed: 8 });
    // Fills and the providers' compliance events: malformed ones are parked, never applied.
    const fillOrCompliance = fc.tuple(fc.constantFrom('fill', 'sanctions', 'kyc'), fc.oneof(token, fc.constantFrom(...accounts)));
    await fc.assert(fc.asyncProperty(fillOrCompliance, payload, async ([kind, user], bytes) => {
      const subject = kind === 'fill' ? t.names.meFillSubject(user) : kind === 'sanctions' ? t.names.sanctionsHitSubject(user) : t.names.kycReverifiedSubject(user);
      fc.pre(kind === 'fill' ? !parseFill(bytes, { subjectUserId: user }).ok : !parseComplianceEvent(subject, bytes).ok);
      await js.publish(subject, bytes);
      sent++;
    }), { numRuns: 150, seed: 10 });
    for (const subject of adminSubjects) {
      await fc.assert(fc.asyncProperty(payload, async (bytes) => {
        fc.pre(!couldApply(subject, bytes));
        const reply = await t.client.request(subject, bytes, { timeout: 5_000 });
        expect(reply.data.length).toBeGreaterThan(0); // answered, whatever it was
        sent++;
      }), { numRuns: 25, seed: 9 });
    }

    // Everything sent is consumed: every partition's consumer, the strays, the me_db consumer.
    const jsm = await jetstreamManager(t.client);
    const consumers = [
      ...Array.from({ length: partitions }, (_, p) => [t.names.commandStream, t.names.commandConsumer(p)] as const),
      [t.names.commandStream, t.names.commandStrayConsumer] as const,
      [t.names.meBalanceStream, t.names.meDbConsumer] as const,
      [t.names.meFillStream, t.names.fillIntakeConsumer] as const,
      [t.names.complianceStream, t.names.complianceConsumer] as const,
    ];
    await until('every consumer drained', async () => {
      for (const [stream, name] of consumers) {
        const c = await jsm.consumers.info(stream, name);
        if (c.num_pending > 0 || c.num_ack_pending > 0) return false;
      }
      return true;
    }, 60_000, 250);
    expect(await books()).toEqual(before);
    const parked = await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM parked_commands');
    expect(parked.rows[0]!.n).toBeGreaterThan(100);
    // The malformed fills and compliance events were parked too, each with its exact bytes.
    const intakes = await t.pool.query<{ n: number; exact: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE payload_bytes IS NOT NULL)::int AS exact FROM parked_commands WHERE stream = ANY($1::text[])`,
      [[t.names.meFillStream, t.names.complianceStream]]);
    expect(intakes.rows[0]!.n).toBeGreaterThan(100);
    expect(intakes.rows[0]!.exact).toBe(intakes.rows[0]!.n);
    const jump = await t.pool.query("SELECT 1 FROM recon_breaks WHERE kind = 'sequence_jump'");
    expect(jump.rowCount).toBe(1);

    // Every partition still applies a valid command.
    for (let p = 0; p < partitions; p++) {
      let n = 0;
      while (partitionOf(`ok${p}-${n}`, partitions) !== p) n++;
      const reply = (await t.admin('account.create', { userId: `ok${p}-${n}` })) as { state?: string };
      expect(reply.state).toBe('pending_kyc');
    }
    expect(t.engine.isLeader()).toBe(true);
    expect(sent).toBeGreaterThan(400);
  }, 120_000);
});

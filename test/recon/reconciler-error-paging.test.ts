import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { withTransaction } from '../../src/db/transaction.js';
import { natsNames, type NatsNames } from '../../src/nats/names.js';
import { ensureReconStream } from '../../src/nats/topology.js';
import { BreakRegistry } from '../../src/recon/breaks/break-registry.js';
import { breakKinds } from '../../src/recon/breaks/break-kinds.js';
import { durableWrites } from '../../src/recon/durable-writes.js';
import { reportReconcilerError, type ErrorReportingContext } from '../../src/recon/error-reporting.js';
import { reconLimits } from '../../src/recon/limits.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { silentLogger } from '../support/log.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';
import { until } from '../support/until.js';

let database: TestDatabase;
let pool: Pool;
let server: pg.Pool;
let nc: NatsConnection;
let jsm: JetStreamManager;
let names: NatsNames;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool(database.url, 4);
  // Not 'recon-engine': the cut spares the connection that makes it.
  server = new pg.Pool({ connectionString: inject('databaseUrl'), max: 1, application_name: 'reconciler-error-paging-test' });
  nc = await connect({ servers: sharedNatsUrl() });
  jsm = await jetstreamManager(nc);
  names = natsNames(testNamespace());
  await ensureReconStream(jsm, names);
});

afterAll(async () => {
  await jsm?.streams.delete(names.reconStream).catch(() => undefined);
  await nc?.close();
  await pool?.end();
  await server?.end();
  await database?.drop();
});

function registryFor(boundary: string, onWriteFailed: (error: unknown) => void = () => undefined): BreakRegistry {
  return new BreakRegistry({ boundary, pool, js: jetstream(nc), names, log: silentLogger(), writes: durableWrites(pool, null), onWriteFailed });
}

async function metaBreaks(boundary: string): Promise<number> {
  return (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM recon_breaks WHERE boundary = $1 AND kind = 'reconciler_error'", [boundary])).rows[0]!.n;
}

/** The error a statement gets when its connection is cut under it (pg_terminate_backend). */
async function cutStatementError(): Promise<unknown> {
  const failed = pool.query('SELECT pg_sleep(5)').then(() => null, (error: unknown) => error);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await server.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'recon-engine'", [new URL(database.url).pathname.slice(1)]);
  return failed;
}

describe('a reconciler error', () => {
  it('from one cut (every statement in flight at once) is not paged; another cut soon after is', async () => {
    const cut = await cutStatementError();
    expect((cut as { code?: string }).code).toBe('57P01');
    let nowMs = 1_000_000;
    const breaks = registryFor('cut_paging');
    const ctx: ErrorReportingContext = { boundary: 'cut_paging', log: silentLogger(), breaks, key: 'engine', nowMs: () => nowMs };
    reportReconcilerError(ctx, 'ledger', cut);
    nowMs += reconLimits.connectionCutSpreadMs - 1;
    reportReconcilerError(ctx, 'outbox', cut);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(breaks.list()).toEqual([]);
    expect(await metaBreaks('cut_paging')).toBe(0);
    // Later, but within the quiet period: cuts go on, which pages.
    nowMs += reconLimits.connectionCutSpreadMs + 1;
    reportReconcilerError(ctx, 'ledger', cut);
    await until('the reconciler_error recorded', async () => (await metaBreaks('cut_paging')) === 1);
    expect(breaks.has(breakKinds.reconcilerError, 'engine')).toBe(true);
  });

  it('any other error is paged at once', async () => {
    const breaks = registryFor('other_paging');
    const ctx: ErrorReportingContext = { boundary: 'other_paging', log: silentLogger(), breaks, key: 'engine', nowMs: Date.now };
    const refused = await withTransaction(pool, (client) => client.query('SELECT 1/0')).then(() => null, (error: unknown) => error);
    reportReconcilerError(ctx, 'ledger', refused);
    await until('the reconciler_error recorded', async () => (await metaBreaks('other_paging')) === 1);
  });

  it('paged while its record is retried by the drainer too is recorded once', async () => {
    const breaks = registryFor('meta_once');
    const meta = { kind: breakKinds.reconcilerError, key: 'engine', detail: 'ledger: boom' };
    // raiseMeta records at once; the drainer's round (beforeRound) records what is unrecorded at the same time.
    const outcomes = await Promise.allSettled([breaks.raiseMeta(meta, Date.now()), breaks.retryUnrecorded(), breaks.retryUnrecorded()]);
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))).toEqual([]);
    expect(await metaBreaks('meta_once')).toBe(1);
  });

  it('recorded by the drainer while its page is in flight is paged once (the outbox does not page it again)', async () => {
    const boundary = 'meta_in_flight';
    const pages: unknown[] = [];
    const sub = nc.subscribe(names.reconAlertSubject(boundary), { callback: (_e, msg) => void pages.push(msg.json()) });
    await nc.flush();
    // The page lands 300 ms late, as on a busy server; the drainer's round runs meanwhile.
    const js = jetstream(nc);
    const slowJs = new Proxy(js, {
      get: (target, prop, receiver) => prop === 'publish'
        ? async (...args: Parameters<typeof js.publish>) => { await new Promise((r) => setTimeout(r, 300)); return target.publish(...args); }
        : Reflect.get(target, prop, receiver),
    });
    const breaks = new BreakRegistry({ boundary, pool, js: slowJs, names, log: silentLogger(), writes: durableWrites(pool, null), onWriteFailed: () => undefined });
    breaks.startEffects();
    const raised = breaks.raiseMeta({ kind: breakKinds.reconcilerError, key: 'engine', detail: 'ledger: boom' }, Date.now());
    await new Promise((r) => setTimeout(r, 50));
    await breaks.retryUnrecorded();
    await raised;
    await until('the outbox drained', async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recon_outbox WHERE boundary = $1 AND done_at IS NULL', [boundary])).rows[0]!.n === 0);
    await new Promise((r) => setTimeout(r, reconLimits.outboxRetryMs + 500));
    await breaks.stopEffects();
    sub.unsubscribe();
    expect(await metaBreaks(boundary)).toBe(1);
    expect(pages).toHaveLength(1);
  });

  it('paged just before a stop is recorded by the stop, so the next instance loads it and can resolve it', async () => {
    const breaks = registryFor('stop_paging');
    const raised = breaks.raiseMeta({ kind: breakKinds.reconcilerError, key: 'chain', detail: 'tick: too many stakers' }, Date.now());
    await breaks.stopEffects();
    expect(await metaBreaks('stop_paging')).toBe(1);
    await raised;
    const next = registryFor('stop_paging');
    await next.load();
    expect(next.has(breakKinds.reconcilerError, 'chain')).toBe(true);
    await next.resolve(breakKinds.reconcilerError, 'chain');
    expect(next.list()).toEqual([]);
    expect(await metaBreaks('stop_paging')).toBe(1);
  });
});

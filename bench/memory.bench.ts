/**
 * Suite `memory`: the engine's resident memory with many known accounts and the live-actor cap.
 *
 * N accounts are created directly in KV and Postgres (a valid record and audit row each, in
 * bulk: quick), then an engine runs as a child process with LIVE_ACTORS_MAX = cap and an idle
 * timeout longer than the run, so only the cap passivates. Its RSS (/proc/<pid>/status) is read
 * when it is ready (nothing touched: the baseline), after `cap` accounts have had a transition
 * (every one of them live), and after every account has had one (cap live, the rest passivated
 * by the cap, least recently used first). Bytes per passivated account = the growth between the
 * last two ÷ the accounts passivated; bytes per live account = the growth before ÷ cap.
 *
 * Then the me_db reconciler alone (bench/me-db-child.ts): P positions saved in
 * recon_me_db_positions, restored once with every one held (the baseline) and once with the
 * position cap (RECON_ME_DB_POSITIONS_MAX), which then reconciles a change on both sides for T
 * users (a ledger journal each, an engine event each), each loaded back from Postgres when
 * touched: its memory follows the cap, not the positions known.
 */
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { AccountCommand } from '../src/actors/account-command.js';
import { genesisHash, newTransitionRow, type AccountRecord, type TransitionRow } from '../src/actors/account-record.js';
import { appendTransitions } from '../src/actors/audit-log.js';
import { partitionOf } from '../src/actors/partition.js';
import type { Pool } from '../src/db/pool.js';
import { natsNames, type NatsNames } from '../src/nats/names.js';
import { ensureAccountTopology } from '../src/nats/topology.js';
import { startBenchChild, type BenchChild } from './child.js';
import type { ChildMemory } from './engine-child.js';
import type { MeDbChildMemory } from './me-db-child.js';
import { defaultMeDbLimits } from '../src/recon/me-db/limits.js';
import type { BenchContext, BenchSuite, SuiteResult } from './suite.js';
import { benchNamespace, createBenchDatabase, deleteNamespaceStreams, fmtInt, fmtMs, fmtRows, nowMs, sleep, until } from './support.js';

const partitions = 16;
const goalTotalBytes = 1.5 * 2 ** 30;
const goalPassivatedBytes = 1024;

function readOptions(quick: boolean) {
  const int = (env: string, full: number, quickValue: number): number => {
    const v = process.env[env];
    if (v === undefined || v === '') return quick ? quickValue : full;
    const n = Number(v.replaceAll('_', ''));
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`${env} must be a positive integer, got "${v}"`);
    return n;
  };
  const accounts = int('BENCH_MEMORY_ACCOUNTS', 1_000_000, 100_000);
  const liveMax = int('BENCH_MEMORY_LIVE_MAX', 100_000, 10_000);
  // Full: 1M known, 200k touched (100k live, 100k passivated); touching all 1M takes ~10 min here.
  const touched = Math.min(accounts, int('BENCH_MEMORY_TOUCHED', 200_000, 40_000));
  if (liveMax >= touched) throw new RangeError('BENCH_MEMORY_LIVE_MAX must be below the accounts touched (some must be passivated)');
  // glibc gives each thread its own malloc arena; capped, RSS stops growing with work done (see docs/bench.md).
  const mallocArenaMax = process.env.MALLOC_ARENA_MAX ?? '2';
  // me_db: P positions saved, a cap below them, T users touched past the cap (~1.5 min full, ~20 s quick).
  const positions = int('BENCH_MEMORY_POSITIONS', 1_000_000, 50_000);
  const positionsMax = int('BENCH_MEMORY_POSITIONS_MAX', 50_000, 5_000);
  const positionsTouched = Math.min(positions, int('BENCH_MEMORY_POSITIONS_TOUCHED', 100_000, 10_000));
  if (positionsMax >= positionsTouched) throw new RangeError('BENCH_MEMORY_POSITIONS_MAX must be below the positions touched (some must be evicted)');
  return { accounts, liveMax, touched, mallocArenaMax, positions, positionsMax, positionsTouched };
}
type Options = ReturnType<typeof readOptions>;

const userIdOf = (i: number): string => `m${String(i).padStart(7, '0')}`;

export const memorySuite: BenchSuite = {
  name: 'memory',
  description: 'engine RSS with N known accounts (most passivated) and the live-actor cap; bytes per passivated account',
  async run(ctx) {
    const opts = readOptions(ctx.quick);
    const db = await createBenchDatabase(ctx.serverUrl, 'mem', ctx.log, 8);
    const names = natsNames(benchNamespace());
    let engine: BenchChild | null = null;
    const stopEngine = async (): Promise<void> => engine?.stop();
    const cleanups: Array<() => Promise<unknown>> = [() => db.drop(), () => deleteNamespaceStreams(ctx.nc, names), stopEngine];
    const cleanupAll = async (): Promise<void> => {
      for (const task of cleanups.splice(0).reverse()) await task().catch(() => undefined);
    };
    ctx.cleanup.add('memory suite', cleanupAll);
    try {
      await ensureAccountTopology(ctx.nc, names);
      const seedMs = await seedAccounts(ctx, db.pool, names, opts.accounts);
      ctx.say(`memory: ${fmtInt(opts.accounts)} accounts in KV and Postgres in ${fmtMs(seedMs)}; starting the engine (LIVE_ACTORS_MAX ${fmtInt(opts.liveMax)})`);

      const child = await startBenchChild('bench/engine-child.ts', {
        NATS_URL: ctx.natsUrl,
        DATABASE_URL: db.url,
        NAMESPACE: names.namespace,
        COMMAND_PARTITIONS: String(partitions),
        LIVE_ACTORS_MAX: String(opts.liveMax),
        ACTOR_IDLE_MS: String(3_600_000),
        LOG_LEVEL: 'warn',
        MALLOC_ARENA_MAX: opts.mallocArenaMax,
      }, ['--expose-gc']);
      engine = child;
      await sleep(1_000);
      const idle = await measure(child);
      const rssIdle = idle.rss;

      ctx.say(`memory: engine ready, RSS ${mb(rssIdle)}; a transition for the first ${fmtInt(opts.liveMax)} accounts (all live)`);
      const first = await touch(ctx, names, 0, opts.liveMax);
      const live = await measure(child);
      const rssLive = live.rss;
      ctx.say(`memory: RSS ${mb(rssLive)} with ${fmtInt(opts.liveMax)} live; now ${fmtInt(opts.touched - opts.liveMax)} more (passivating by the cap)`);
      // Two equal steps of passivation: the first also warms the allocator up to its working size,
      // the second shows what each further passivated account costs (the slope).
      const middle = opts.liveMax + Math.floor((opts.touched - opts.liveMax) / 2);
      const firstHalf = await touch(ctx, names, opts.liveMax, middle);
      const half = await measure(child);
      ctx.say(`memory: RSS ${mb(half.rss)} with ${fmtInt(middle - opts.liveMax)} passivated`);
      const secondHalf = await touch(ctx, names, middle, opts.touched);
      const rest = { ms: firstHalf.ms + secondHalf.ms, perSec: (opts.touched - opts.liveMax) / ((firstHalf.ms + secondHalf.ms) / 1000) };
      const all = await measure(child);
      const rssAll = all.rss;
      ctx.say(`memory: RSS ${mb(rssAll)} with ${fmtInt(opts.accounts)} known, ${fmtInt(opts.touched)} touched, ${fmtInt(opts.liveMax)} live`);
      await stopEngine();

      const meDb = await measureMeDb(ctx, opts);
      const passivated = opts.touched - opts.liveMax;
      const perPassivated = (rssAll - half.rss) / (opts.touched - middle);
      const perPassivatedAverage = (rssAll - rssLive) / passivated;
      const perLive = (rssLive - rssIdle) / opts.liveMax;
      const result: SuiteResult = {
        figures: [
          {
            measure: `engine RSS after GC, ${fmtRows(opts.accounts)} known accounts (${fmtRows(opts.touched)} touched), live-actor cap ${fmtRows(opts.liveMax)}`,
            ours: mb(rssAll),
            baseline: `idle engine, nothing touched: ${mb(rssIdle)}`,
            ratio: null,
            ratioMeaning: 'no ratio: a budget',
            goal: '≤ 1.5 GB in all',
            met: rssAll <= goalTotalBytes,
          },
          {
            measure: `RSS per further passivated account (slope over the last ${fmtInt(opts.touched - middle)} of ${fmtInt(passivated)} passivated by the cap)`,
            // Signed: a negative slope means RSS fell while more accounts were passivated.
            ours: `${fmtInt(perPassivated)} B${perPassivated < 0 ? ' (RSS fell)' : ''}`,
            baseline: `bytes per live account ${fmtInt(perLive)} B`,
            ratio: perPassivated > 0 ? perLive / perPassivated : null,
            ratioMeaning: 'live ÷ passivated',
            goal: '≤ 1 KB',
            met: perPassivated <= goalPassivatedBytes,
          },
          {
            measure: `transitions/s while passivating (each a cold load from KV and Postgres)`,
            ours: `${fmtInt(rest.perSec)} /s`,
            baseline: `the first ${fmtRows(opts.liveMax)} (also cold, nothing evicted): ${fmtInt(first.perSec)} /s`,
            ratio: rest.perSec / first.perSec,
            ratioMeaning: 'passivating ÷ not',
          },
          ...meDb.figures,
        ],
        details: [
          `### memory\n\n${fmtInt(opts.accounts)} accounts seeded in KV and Postgres (${fmtMs(seedMs)}); engine as a child process, ${partitions} partitions, LIVE_ACTORS_MAX ${fmtInt(opts.liveMax)}, ` +
          `ACTOR_IDLE_MS 1 h, MALLOC_ARENA_MAX ${opts.mallocArenaMax}. ${fmtInt(opts.touched)} of them get a transition through the engine; the others stay in KV and Postgres only. Passivated per-account cost counts heap and RSS growth: heap used grew ${fmtInt((all.heapUsed - live.heapUsed) / passivated)} B per passivated account. RSS at ready ${mb(rssIdle)}; after ${fmtInt(opts.liveMax)} transitions (all live) ${mb(rssLive)}; after ${fmtInt(middle)} ${mb(half.rss)}; after all ${fmtInt(opts.touched)} ${mb(rssAll)}. ` +
          `Averaged over every passivated account (allocator warm-up included): ${fmtInt(perPassivatedAverage)} B each. ` +
          `Transitions: ${fmtInt(opts.liveMax)} in ${fmtMs(first.ms)}, then ${fmtInt(passivated)} in ${fmtMs(rest.ms)}. RSS is read after a full GC in the engine process (bench/engine-child.ts, --expose-gc). Heap used: ${mb(idle.heapUsed)} → ${mb(live.heapUsed)} → ${mb(half.heapUsed)} → ${mb(all.heapUsed)}.`,
          meDb.details,
        ],
        raw: { idle, live, half, all, perPassivatedAverage, perPassivated, perLive, seedMs, first, rest, meDb: meDb.raw },
        settings: { ...opts, partitions },
      };
      return result;
    } finally {
      await cleanupAll();
    }
  },
};

/**
 * The me_db reconciler's memory with many positions known: P saved, restored with all held
 * (baseline), then with the cap, which reconciles T users' changes (each loaded back when touched).
 */
async function measureMeDb(ctx: BenchContext, opts: Options): Promise<{ figures: SuiteResult['figures']; details: string; raw: unknown }> {
  const db = await createBenchDatabase(ctx.serverUrl, 'memdb', ctx.log, 4);
  const names = natsNames(benchNamespace());
  let child: BenchChild | null = null;
  try {
    const t0 = nowMs();
    await db.pool.query(
      `INSERT INTO recon_me_db_positions (user_id, currency, engine_total, engine_seq, ledger_total)
       SELECT 'p' || lpad(i::text, 7, '0'), 'USDT', 100, 0, 100 FROM generate_series(0, $1::int - 1) AS i`, [opts.positions]);
    await db.pool.query(`INSERT INTO recon_watermarks (boundary, left_seq, right_tx, right_id, rows_read) VALUES ('me_db', 0, '0', 0, 0)`);
    const seedMs = nowMs() - t0;
    const start = async (positionsMax: number): Promise<BenchChild> => startBenchChild('bench/me-db-child.ts', {
      NATS_URL: ctx.natsUrl, DATABASE_URL: db.url, NAMESPACE: names.namespace, RECON_ME_DB_POSITIONS_MAX: String(positionsMax),
      MALLOC_ARENA_MAX: opts.mallocArenaMax,
    }, ['--expose-gc']);

    ctx.say(`memory: me_db, ${fmtInt(opts.positions)} positions saved (${fmtMs(seedMs)}); restoring with every one held`);
    let t = nowMs();
    child = await start(opts.positions);
    const allHeldRestoreMs = nowMs() - t;
    const allHeld = await measureMeDbChild(child);
    await child.stop();
    ctx.say(`memory: me_db RSS ${mb(allHeld.rss)} with ${fmtInt(allHeld.positionsInMemory)} held; now with the cap ${fmtInt(opts.positionsMax)}`);

    t = nowMs();
    child = await start(opts.positionsMax);
    const cappedRestoreMs = nowMs() - t;
    const restored = await measureMeDbChild(child);

    // T users change on both sides: a journal each (user +1, house −1), an engine event each (total 101).
    t = nowMs();
    await db.pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
       SELECT 'jm' || i, u, 'USDT', a, 'deposit', 'jm' || i
         FROM generate_series(0, $1::int - 1) AS i, LATERAL (VALUES ('p' || lpad(i::text, 7, '0'), 1::numeric), ('house:custody', -1::numeric)) AS side(u, a)`,
      [opts.positionsTouched]);
    const js = jetstream(ctx.nc);
    const ts = new Date().toISOString();
    let inFlight: Array<Promise<unknown>> = [];
    for (let i = 0; i < opts.positionsTouched; i++) {
      const userId = `p${String(i).padStart(7, '0')}`;
      inFlight.push(js.publish(names.meBalanceSubject(userId), JSON.stringify({ seq: i + 1, userId, currency: 'USDT', total: '101', locked: '0', available: '101', ts })));
      if (inFlight.length >= 1_000) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);
    const running = child;
    let last: MeDbChildMemory | null = null;
    // The most held at any poll: while one side runs ahead, positions that differ cannot be evicted.
    let peakHeld = 0;
    await until('me_db to reconcile the touched positions', async () => {
      last = await measureMeDbChild(running);
      peakHeld = Math.max(peakHeld, last.positionsInMemory);
      return last.engineSeq >= opts.positionsTouched && last.ledgerRowsRead >= 2 * opts.positionsTouched;
    }, 600_000, 2_000, () => ctx.say(`memory: me_db at engine seq ${fmtInt(last?.engineSeq ?? 0)}, ${fmtInt(last?.ledgerRowsRead ?? 0)} ledger rows`));
    const touchMs = nowMs() - t;
    await sleep(2_000);
    const touched = await measureMeDbChild(child);
    await child.stop();
    child = null;
    const saved = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM recon_me_db_positions WHERE engine_total = 101 AND ledger_total = 101`);
    const exact = saved.rows[0]?.n ?? 0;
    ctx.say(`memory: me_db RSS ${mb(touched.rss)} with ${fmtInt(touched.positionsInMemory)} held of ${fmtInt(touched.positionsKnown)} after ${fmtInt(opts.positionsTouched)} touched`);

    // The cap plus one batch (ledger rows or engine events) is what the book may hold.
    const heldBound = opts.positionsMax + defaultMeDbLimits.ledgerBatchRowsMax;
    const figures: SuiteResult['figures'] = [
      {
        measure: `me_db reconciler RSS after GC, ${fmtRows(opts.positions)} positions known, cap ${fmtRows(opts.positionsMax)}, after ${fmtRows(opts.positionsTouched)} touched (each loaded back from Postgres)`,
        ours: `${mb(touched.rss)} (${fmtInt(touched.positionsInMemory)} held)`,
        baseline: `every position held: ${mb(allHeld.rss)} (${fmtInt(allHeld.positionsInMemory)} held)`,
        ratio: allHeld.rss / touched.rss,
        ratioMeaning: 'all held ÷ capped',
        goal: 'bounded by the cap, not by the positions known',
        met: touched.positionsInMemory <= heldBound && touched.positionsKnown === opts.positions && exact === opts.positionsTouched && touched.openBreaks === 0,
      },
      {
        measure: `me_db: ${fmtRows(opts.positionsTouched)} users' changes reconciled under the cap (events + ledger rows /s from the first publish, evicting and loading back)`,
        ours: `${fmtInt((3 * opts.positionsTouched) / (touchMs / 1000))} /s`,
        baseline: `restore of ${fmtRows(opts.positions)} positions: ${fmtMs(cappedRestoreMs)} capped, ${fmtMs(allHeldRestoreMs)} all held`,
        ratio: null,
        ratioMeaning: 'no ratio: context',
      },
    ];
    const details = `me_db: ${fmtInt(opts.positions)} positions in recon_me_db_positions (1 currency each), the reconciler alone in a child process (bench/me-db-child.ts, grace 5 s, MALLOC_ARENA_MAX ${opts.mallocArenaMax}). ` +
      `Every position held (cap ≥ known): restored in ${fmtMs(allHeldRestoreMs)}, RSS ${mb(allHeld.rss)}, heap ${mb(allHeld.heapUsed)}. ` +
      `Cap ${fmtInt(opts.positionsMax)}: restored in ${fmtMs(cappedRestoreMs)} holding ${fmtInt(restored.positionsInMemory)}, RSS ${mb(restored.rss)}, heap ${mb(restored.heapUsed)}; ` +
      `then ${fmtInt(opts.positionsTouched)} users changed on both sides (${fmtInt(opts.positionsTouched)} engine events, ${fmtInt(2 * opts.positionsTouched)} ledger rows) reconciled in ${fmtMs(touchMs)} (publishing included; at most ${fmtInt(peakHeld)} held at the 2 s polls, while the ledger ran behind): ` +
      `RSS ${mb(touched.rss)}, heap ${mb(touched.heapUsed)}, ${fmtInt(touched.positionsInMemory)} held of ${fmtInt(touched.positionsKnown)} known, ${touched.openBreaks} open breaks, ${fmtInt(exact)} saved positions exact (engine = ledger = 101).`;
    return { figures, details, raw: { seedMs, allHeld, allHeldRestoreMs, restored, cappedRestoreMs, touched, touchMs, exact, peakHeld } };
  } finally {
    await child?.stop().catch(() => undefined);
    await deleteNamespaceStreams(ctx.nc, names).catch(() => undefined);
    await db.drop();
  }
}

const isMeDbMemory = (m: unknown): m is MeDbChildMemory => typeof (m as MeDbChildMemory | null)?.positionsInMemory === 'number';
const measureMeDbChild = (child: BenchChild): Promise<MeDbChildMemory> => child.ask({ measure: true }, isMeDbMemory, 120_000);

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;

const isMemory = (m: unknown): m is ChildMemory => typeof (m as ChildMemory | null)?.heapUsed === 'number';
/** The engine's memory after a full GC (it answers on its IPC channel). */
const measure = (child: BenchChild): Promise<ChildMemory> => child.ask({ measure: true }, isMemory);

/**
 * Every account as `signup` left it: a KV record at seq 1 and its audit row. The KV records go
 * out as plain publishes on the bucket's subjects (no ack per message, a flush per chunk: a
 * seeding shortcut, not how the engine writes), so the KV revision of account i is i + 1 in the
 * fresh bucket; the stream's last sequence is checked at the end.
 */
async function seedAccounts(ctx: BenchContext, pool: Pool, names: NatsNames, accounts: number): Promise<number> {
  const t0 = nowMs();
  const chunk = 10_000;
  const atMs = Date.now();
  const bucketSubject = `$KV.${names.accountsBucket}.`;
  let inserting: Promise<void> = Promise.resolve();
  for (let start = 0; start < accounts; start += chunk) {
    const rows: Array<{ row: TransitionRow; kvRevision: number }> = [];
    for (let i = start; i < Math.min(accounts, start + chunk); i++) {
      const userId = userIdOf(i);
      const row = newTransitionRow({
        transitionId: randomUUID(), userId, seq: 1, commandId: `${userId}-0`, from: null, to: 'pending_kyc',
        reasonCode: 'signup', authority: 'self', actorId: 'bench', atMs, prevHash: genesisHash,
      });
      const record: AccountRecord = { userId, state: 'pending_kyc', closureRequestedAt: null, seq: 1, last: row };
      rows.push({ row, kvRevision: i + 1 });
      ctx.nc.publish(`${bucketSubject}${userId}`, JSON.stringify(record));
    }
    await ctx.nc.flush();
    // One INSERT in flight while the next chunk's KV records go out.
    await inserting;
    inserting = appendTransitions(pool, rows);
    if (start % 200_000 === 0 && start > 0) ctx.say(`memory: seeded ${fmtInt(start)} accounts`);
  }
  await inserting;
  const jsm = await jetstreamManager(ctx.nc);
  await until('every KV record stored', async () => (await jsm.streams.info(`KV_${names.accountsBucket}`)).state.last_seq >= accounts, 120_000, 100);
  const state = (await jsm.streams.info(`KV_${names.accountsBucket}`)).state;
  if (state.last_seq !== accounts || state.messages !== accounts) throw new Error(`memory: seeding stored ${state.messages} KV records (last seq ${state.last_seq}), expected ${accounts}`);
  return nowMs() - t0;
}

/** A transition (pending_kyc → kyc_approved) for accounts [from, to); waits until every audit row is there. */
async function touch(ctx: BenchContext, names: NatsNames, from: number, to: number): Promise<{ ms: number; perSec: number }> {
  const js = jetstream(ctx.nc);
  const t0 = nowMs();
  let inFlight: Array<Promise<unknown>> = [];
  for (let i = from; i < to; i++) {
    const userId = userIdOf(i);
    const command: AccountCommand = { commandId: `${userId}-1`, userId, kind: 'transition', target: 'kyc_approved', authority: 'system', reasonCode: 'kyc_pass', actorId: 'bench' };
    inFlight.push(js.publish(names.commandSubject(partitionOf(userId, partitions), userId), JSON.stringify(command), { msgID: command.commandId }));
    if (inFlight.length >= 1_000) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
  // Each transition publishes one event after its audit row is committed (seeding published none).
  const jsm = await jetstreamManager(ctx.nc);
  let events = 0;
  await until(`${fmtInt(to - from)} transitions`, async () => {
    events = (await jsm.streams.info(names.eventStream)).state.messages;
    return events >= to;
  }, 1_200_000, 100, () => ctx.say(`memory: ${fmtInt(events - from)} of ${fmtInt(to - from)} transitions`));
  const ms = nowMs() - t0;
  return { ms, perSec: (to - from) / (ms / 1000) };
}

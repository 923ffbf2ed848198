/**
 * Suite `transitions`: account transitions through the engine's command path against the raw
 * JetStream + Postgres pipeline (bench/raw-pipeline.ts), both in the same run.
 *
 * Each side, on a scratch database and namespace of its own, starts in a process of its own
 * (bench/engine-child.ts starts the engine as `npm start` does; bench/raw-pipeline-child.ts), is
 * ready (it owns every partition) and warms up. Then, the sides taking turns, N accounts × 5
 * transitions are published as commands on their partition subjects (round by round, as the
 * command client would), timed from the first publish to the arrival of the last event (each side
 * publishes an event after its audit row is committed, so every audit row and every event is then
 * present; both are counted after); three runs a side, the median of each. Then a latency phase: commands at
 * half the engine's sustained rate, each with a `replyTo`, timed from publish to reply (the
 * reply goes out after the ack, so after every effect). Round trips are counted from
 * pg_stat_database (transactions committed) and the side's own NATS connection (messages out).
 * So that a latency figure can be read on a shared box, the latency phase also reports the side's
 * CPU time per command, how busy its event loop was and how much CPU it got, how busy the whole
 * machine was, the bench's own event-loop delay, how late the publisher ran, and each round's p99.
 * BENCH_PROFILE_DIR=<dir> runs both sides under `node --cpu-prof` and summarises the profiles.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import type { Profiler } from 'node:inspector';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import type { AccountCommand } from '../src/actors/account-command.js';
import { partitionOf } from '../src/actors/partition.js';
import type { Pool } from '../src/db/pool.js';
import type { AccountState, Authority } from '../src/fsm/index.js';
import { natsNames, type NatsNames } from '../src/nats/names.js';
import { ensureAccountTopology } from '../src/nats/topology.js';
import { limits } from '../src/config/limits.js';
import { summarise, type ProfileSummary } from './cpu-profile.js';
import { startBenchChild, type BenchChild } from './child.js';
import type { ChildStats } from './engine-child.js';
import type { BenchContext, BenchSuite, SuiteResult } from './suite.js';
import { benchNamespace, createBenchDatabase, deleteNamespaceStreams, fmtInt, fmtMs, median, nowMs, percentile, sleep, until, type BenchDatabase } from './support.js';

/** Five allowed moves per account. */
const plan: Array<{ target: AccountState; authority: Authority; reasonCode: string }> = [
  { target: 'pending_kyc', authority: 'self', reasonCode: 'signup' },
  { target: 'kyc_approved', authority: 'system', reasonCode: 'kyc_pass' },
  { target: 'active', authority: 'system', reasonCode: 'first_deposit' },
  { target: 'suspended', authority: 'admin', reasonCode: 'dispute' },
  { target: 'active', authority: 'admin', reasonCode: 'dispute_closed' },
];

interface SideResult {
  /** Transitions in one timed run. */
  transitions: number;
  /** Transitions/s of each timed run, in order. */
  runs: number[];
  /** Median duration and rate of the timed runs. */
  ms: number;
  perSec: number;
  pgTransactionsPerTransition: number;
  natsMessagesOutPerTransition: number;
  /** CPU time of the side's process per transition, throughput phase (ms). */
  cpuMsPerTransition: number;
  latency: LatencyResult | null;
  profile?: ProfileSummary;
}

interface LatencyResult {
  rate: number;
  sent: number;
  replied: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** p99 of each round (round 0: every command creates a new account). */
  roundP99Ms: number[];
  /** CPU time of the side's process per command in this phase (ms). */
  cpuMsPerCommand: number;
  /** Postgres transactions committed in the side's database, and NATS messages the side sent, per command in this phase. */
  pgTransactionsPerCommand: number;
  natsMessagesOutPerCommand: number;
  /** Share of the phase during which the side's event loop was not waiting for I/O (1: saturated, or starved of CPU). */
  loopBusyShare: number;
  /** CPU time the side's process got, as a share of the phase (of one core): below loopBusyShare, it waited for a CPU. */
  cpuShare: number;
  /** Share of the machine's CPU time that was busy during the phase (every process, ours and others'). */
  machineBusyShare: number;
  /** The bench process's own event-loop delay p99 during the phase: what timing a reply may add (ms). */
  benchLoopDelayP99Ms: number;
  /** How late the publisher sent, behind each command's due time, p99 (ms). */
  publishLateP99Ms: number;
  /** CPU time the bench's own process (the load generator) got, as a share of the phase (of one core). */
  benchCpuShare: number;
}

/** The engine or the raw pipeline, each in a process of its own (bench/engine-child.ts, bench/raw-pipeline-child.ts). */
interface Side {
  child: BenchChild;
  /** Where its CPU profile goes when BENCH_PROFILE_DIR is set (written when it stops). */
  profilePath: string | null;
}

const isStats = (m: unknown): m is ChildStats => typeof (m as ChildStats | null)?.natsMessagesOut === 'number';

function readOptions(quick: boolean) {
  const int = (env: string, full: number, quickValue: number): number => {
    const v = process.env[env];
    if (v === undefined || v === '') return quick ? quickValue : full;
    const n = Number(v.replaceAll('_', ''));
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`${env} must be a positive integer, got "${v}"`);
    return n;
  };
  return {
    accounts: int('BENCH_TRANSITIONS_ACCOUNTS', 4_000, 2_000),
    partitions: int('BENCH_TRANSITIONS_PARTITIONS', 16, 16),
    // Timed runs a side, interleaved with the other side's; the figure is each side's median.
    repeats: int('BENCH_TRANSITIONS_REPEATS', 3, 3),
    latencySeconds: int('BENCH_TRANSITIONS_LATENCY_SECONDS', 10, 5),
    // The goal is judged at half (50); another share shows where the latency knee is on a given box.
    latencyRatePercent: int('BENCH_TRANSITIONS_LATENCY_RATE_PERCENT', 50, 50),
    profileDir: process.env.BENCH_PROFILE_DIR,
    // Node flags for both sides' processes alike (e.g. V8 GC settings to compare), recorded with the run.
    nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').trim().split(/\s+/).filter((arg) => arg !== ''),
    // <prefix>: each latency-phase command's send time and latency go to <prefix>-<namespace>.tsv.
    latencyDump: process.env.BENCH_LATENCY_DUMP,
    // How the latency phase sends: 'jetstream' (each publish awaits the stream's ack) or 'core' (a plain publish with its Nats-Msg-Id, as a gateway fire-and-forgets).
    latencyPublish: process.env.BENCH_LATENCY_PUBLISH === 'core' ? 'core' as const : 'jetstream' as const,
    // The sides' log level (their lines go to BENCH_CHILD_LOG_DIR when that is set; bench/child.ts).
    childLogLevel: process.env.BENCH_CHILD_LOG_LEVEL ?? 'warn',
    // Engine instances (processes) sharing the partitions by their leases, as a deployment of several would.
    engineInstances: int('BENCH_ENGINE_INSTANCES', 1, 1),
  };
}
type Options = ReturnType<typeof readOptions>;

export const transitionsSuite: BenchSuite = {
  name: 'transitions',
  description: 'N accounts × 5 transitions through the engine vs the raw JetStream + Postgres pipeline, interleaved; p99 latency at half the sustained rate',
  async run(ctx) {
    const opts = readOptions(ctx.quick);
    const total = opts.accounts * plan.length;
    ctx.say(`transitions: ${fmtInt(opts.accounts)} accounts × ${plan.length} = ${fmtInt(total)} transitions, ${opts.partitions} partitions, ${opts.repeats} timed runs a side, interleaved`);
    const sides: OpenSide[] = [];
    try {
      const engine = await openSide(ctx, opts, 'engine');
      sides.push(engine);
      const raw = await openSide(ctx, opts, 'raw');
      sides.push(raw);
      // Each side runs the same backlog in turn, the order swapped every round, so a slower stretch
      // of a shared box falls on both sides; the figure is the median of each side's runs.
      for (let round = 0; round < opts.repeats; round++) {
        for (const side of round % 2 === 0 ? [engine, raw] : [raw, engine]) {
          const run = await timeBacklog(ctx, opts, side, `u${round}`);
          side.runs.push(run);
          ctx.say(`transitions: ${side.kind} run ${round + 1}: ${fmtInt(run.perSec)}/s (${fmtMs(run.ms)})`);
        }
      }
      const sustained = median(engine.runs.map((r) => r.perSec));
      const rate = Math.max(50, Math.round((sustained * opts.latencyRatePercent) / 100));
      for (const side of [engine, raw]) {
        side.latency = await measureLatency(ctx, opts, rate, side);
        side.applied += side.latency.sent;
        ctx.say(`transitions: ${side.kind} p99 ${fmtMs(side.latency.p99Ms)} at ${fmtInt(rate)}/s`);
      }
      const ours = await closeSide(ctx, opts, engine);
      const baseline = await closeSide(ctx, opts, raw);
      return report(opts, ours, baseline);
    } finally {
      for (const side of sides) await side.dispose();
    }
  },
};

/** A side (the engine or the raw pipeline) started, owning every partition and warmed up, with its runs so far. */
interface OpenSide extends Side {
  kind: 'engine' | 'raw';
  db: BenchDatabase;
  names: NatsNames;
  /** Stops it and drops its database and streams (idempotent). */
  dispose: () => Promise<void>;
  /** Commands it has applied so far (warm-up, timed runs, latency phase). */
  applied: number;
  runs: BacklogRun[];
  latency: LatencyResult | null;
}

async function openSide(ctx: BenchContext, opts: Options, kind: 'engine' | 'raw'): Promise<OpenSide> {
  const db = await createBenchDatabase(ctx.serverUrl, `tr_${kind}`, ctx.log, 10);
  const names = natsNames(benchNamespace());
  const cleanups: Array<() => Promise<unknown>> = [() => db.drop(), () => deleteNamespaceStreams(ctx.nc, names)];
  const dispose = async (): Promise<void> => {
    for (const task of cleanups.splice(0).reverse()) await task().catch(() => undefined);
  };
  ctx.cleanup.add(`transitions ${kind}`, dispose);
  await ensureAccountTopology(ctx.nc, names);
  const side = await startSide(ctx, opts, names, db.url, kind);
  cleanups.push(() => side.child.stop());
  await until(`the ${kind} to own every partition`, async () => (await side.child.ask({ stats: true }, isStats)).partitionsOwned === opts.partitions, 60_000, 100);

  // Warm-up, not timed: a quarter as many accounts again, so both sides run JIT-compiled code
  // and have their pools and consumers going before the clock starts.
  const warmAccounts = Math.max(200, Math.round(opts.accounts / 4));
  await publishBacklog(ctx.nc, names, opts, warmAccounts, 'w');
  await waitForAll(ctx, db.pool, names, warmAccounts * plan.length, `${kind} warm-up`);
  return { ...side, kind, db, names, dispose, applied: warmAccounts * plan.length, runs: [], latency: null };
}

interface BacklogRun {
  ms: number;
  perSec: number;
  pgTransactions: number;
  natsMessagesOut: number;
  cpuMs: number;
}

/**
 * One timed backlog: N accounts × 5 commands published round by round, timed from the first
 * publish to the arrival of the last of its events. Both sides publish an event only once its
 * audit row is committed, so that moment has every audit row and every event; the counts are
 * then checked (untimed).
 */
async function timeBacklog(ctx: BenchContext, opts: Options, side: OpenSide, prefix: string): Promise<BacklogRun> {
  const total = opts.accounts * plan.length;
  const before = await side.child.ask({ stats: true }, isStats);
  const pgBefore = await transactionsCommitted(side.db);
  // Subscribed before the first publish, on the connection that publishes: it sees every event.
  const lastEvent = lastEventAt(ctx.nc, side.names, total);
  const t0 = nowMs();
  let endMs: number;
  try {
    await publishBacklog(ctx.nc, side.names, opts, opts.accounts, prefix);
    endMs = await lastEvent.at;
  } finally {
    lastEvent.stop();
  }
  side.applied += total;
  await waitForAll(ctx, side.db.pool, side.names, side.applied, `${side.kind} transitions`);
  const after = await side.child.ask({ stats: true }, isStats);
  const ms = endMs - t0;
  return {
    ms,
    perSec: total / (ms / 1000),
    pgTransactions: await transactionsCommittedSince(side.db, pgBefore),
    natsMessagesOut: after.natsMessagesOut - before.natsMessagesOut,
    cpuMs: after.cpuMs - before.cpuMs,
  };
}

/**
 * When the `count`-th distinct event (by Nats-Msg-Id) of the namespace arrives at a plain
 * subscription; `stop` ends the wait (a run that failed before its events came).
 */
function lastEventAt(nc: NatsConnection, names: NatsNames, count: number): { at: Promise<number>; stop(): void } {
  const seen = new Set<string>();
  let anonymous = 0;
  let timer: NodeJS.Timeout | undefined;
  let subscription: Subscription | undefined;
  const stop = (): void => {
    clearTimeout(timer);
    subscription?.unsubscribe();
  };
  const at = new Promise<number>((resolve, reject) => {
    timer = setTimeout(() => {
      stop();
      reject(new Error(`transitions: ${fmtInt(seen.size + anonymous)} of ${fmtInt(count)} events after 10 min`));
    }, 600_000);
    subscription = nc.subscribe(names.eventSubjectAll, {
      callback: (_error, msg) => {
        const id = msg.headers?.get('Nats-Msg-Id');
        if (id) seen.add(id);
        else anonymous++;
        if (seen.size + anonymous < count) return;
        stop();
        resolve(nowMs());
      },
    });
  });
  return { at, stop };
}

async function closeSide(ctx: BenchContext, opts: Options, side: OpenSide): Promise<SideResult> {
  await side.child.stop();
  let profile: ProfileSummary | undefined;
  if (side.profilePath) {
    profile = await mainThreadProfile(side.profilePath);
    ctx.say(`transitions: CPU profile of the ${side.kind} process (warm-up, timed runs and latency phase) written to ${side.profilePath}`);
  }
  const perRun = opts.accounts * plan.length;
  const timed = perRun * side.runs.length;
  const sum = (f: (r: BacklogRun) => number): number => side.runs.reduce((n, r) => n + f(r), 0);
  return {
    transitions: perRun,
    runs: side.runs.map((r) => r.perSec),
    ms: median(side.runs.map((r) => r.ms)),
    perSec: median(side.runs.map((r) => r.perSec)),
    // Over every timed run; the bench's own checks (a few statements a run) are inside these counts.
    pgTransactionsPerTransition: sum((r) => r.pgTransactions) / timed,
    natsMessagesOutPerTransition: sum((r) => r.natsMessagesOut) / timed,
    cpuMsPerTransition: sum((r) => r.cpuMs) / timed,
    latency: side.latency,
    ...(profile ? { profile } : {}),
  };
}

async function startSide(ctx: BenchContext, opts: Options, names: NatsNames, databaseUrl: string, kind: 'engine' | 'raw'): Promise<Side> {
  // One directory per side: node writes a profile per thread (tsx's loader runs in a thread of its own).
  const profilePath = opts.profileDir ? path.resolve(opts.profileDir, `transitions-${kind}`) : null;
  if (profilePath) await mkdir(profilePath, { recursive: true });
  const nodeArgs = [...(profilePath ? ['--cpu-prof', `--cpu-prof-dir=${profilePath}`] : []), ...opts.nodeArgs];
  const instances = kind === 'engine' ? opts.engineInstances : 1;
  const children = await Promise.all(Array.from({ length: instances }, (_, i) => startBenchChild(kind === 'engine' ? 'bench/engine-child.ts' : 'bench/raw-pipeline-child.ts', {
    NATS_URL: ctx.natsUrl,
    DATABASE_URL: databaseUrl,
    NAMESPACE: names.namespace,
    COMMAND_PARTITIONS: String(opts.partitions),
    LOG_LEVEL: opts.childLogLevel,
    ...(instances > 1 ? { INSTANCE_ID: `bench-${names.namespace}-${i}` } : {}),
  }, nodeArgs)));
  return { child: children.length === 1 ? children[0]! : combinedChildren(children), profilePath };
}

/** Several engine processes as one side: their stats summed (CPU, loop time, messages, partitions owned). */
function combinedChildren(children: BenchChild[]): BenchChild {
  return {
    pid: children[0]!.pid,
    async ask<T>(question: object, isAnswer: (message: unknown) => message is T, timeoutMs?: number): Promise<T> {
      const answers = await Promise.all(children.map((child) => child.ask(question, isAnswer, timeoutMs)));
      const stats = answers.flatMap((a) => (isStats(a) ? [a] : []));
      if (stats.length !== answers.length) return answers[0]!;
      const sum = (field: keyof ChildStats): number => stats.reduce((total, a) => total + a[field], 0);
      // Every process owning some: the leases have split the partitions between them.
      const owned = stats.every((a) => a.partitionsOwned > 0) ? sum('partitionsOwned') : 0;
      const combined: ChildStats = { natsMessagesOut: sum('natsMessagesOut'), partitionsOwned: owned, cpuMs: sum('cpuMs'), loopActiveMs: sum('loopActiveMs') };
      return combined as T;
    },
    async stop() {
      await Promise.all(children.map((child) => child.stop()));
    },
  };
}

/** The summary of the busiest profile in the directory (the main thread's; the loader thread idles). */
async function mainThreadProfile(dir: string): Promise<ProfileSummary | undefined> {
  let best: ProfileSummary | undefined;
  for (const file of await readdir(dir)) {
    if (!file.endsWith('.cpuprofile')) continue;
    const summary = summarise(JSON.parse(await readFile(path.join(dir, file), 'utf8')) as Profiler.Profile);
    if (!best || summary.idleShare < best.idleShare) best = summary;
  }
  return best;
}

function commandOf(prefix: string, account: number, step: number, replyTo?: string): AccountCommand {
  const userId = `${prefix}${String(account).padStart(7, '0')}`;
  const move = plan[step]!;
  return {
    commandId: `${userId}-${step}`,
    userId,
    kind: step === 0 ? 'create' : 'transition',
    target: move.target,
    authority: move.authority,
    reasonCode: move.reasonCode,
    actorId: 'bench',
    ...(replyTo ? { replyTo } : {}),
  };
}

/** Round by round, so every account's commands are in order, interleaved with the others'. */
async function publishBacklog(nc: NatsConnection, names: NatsNames, opts: Options, accounts: number, prefix: string): Promise<void> {
  const js = jetstream(nc);
  const inFlightMax = 1_000;
  let inFlight: Array<Promise<unknown>> = [];
  for (let step = 0; step < plan.length; step++) {
    for (let i = 0; i < accounts; i++) {
      const command = commandOf(prefix, i, step);
      inFlight.push(js.publish(names.commandSubject(partitionOf(command.userId, opts.partitions), command.userId), JSON.stringify(command), { msgID: command.commandId }));
      if (inFlight.length >= inFlightMax) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
  }
  await Promise.all(inFlight);
}

async function waitForAll(ctx: BenchContext, pool: Pool, names: NatsNames, total: number, what: string): Promise<void> {
  const jsm = await jetstreamManager(ctx.nc);
  let rows = 0;
  let events = 0;
  await until(what, async () => {
    rows = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM account_state_transitions')).rows[0]?.n ?? 0;
    if (rows < total) return false;
    events = (await jsm.streams.info(names.eventStream)).state.messages;
    return events >= total;
  }, 600_000, 100, () => ctx.say(`transitions: ${what}: ${fmtInt(rows)} audit rows, ${fmtInt(events)} events of ${fmtInt(total)}`));
}

async function transactionsCommitted(db: BenchDatabase): Promise<number> {
  const result = await db.pool.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1', [db.name]);
  return Number(result.rows[0]?.n ?? 0);
}

/** Transactions committed since `before` was read; waits first, as backends flush pg_stat_database at most every 500 ms. */
async function transactionsCommittedSince(db: BenchDatabase, before: number): Promise<number> {
  await sleep(1_000);
  return (await transactionsCommitted(db)) - before;
}

/** Commands at `rate`/s for the configured seconds, each with a replyTo; latency = reply received − publish sent. */
async function measureLatency(ctx: BenchContext, opts: Options, rate: number, side: OpenSide): Promise<LatencyResult> {
  const { names, db, child } = side;
  const count = Math.max(plan.length, Math.round(rate * opts.latencySeconds));
  const accounts = Math.ceil(count / plan.length);
  const js = jetstream(ctx.nc);
  const inbox = `_INBOX.bench.${names.namespace}`;
  const dueAt = new Float64Array(count);
  const sentAt = new Float64Array(count);
  const repliedAt = new Float64Array(count);
  let replied = 0;
  const subscription = ctx.nc.subscribe(`${inbox}.>`, {
    callback: (_error, msg) => {
      const index = Number(msg.subject.slice(inbox.length + 1));
      if (repliedAt[index] === 0) {
        repliedAt[index] = nowMs();
        replied++;
      }
    },
  });
  ctx.say(`transitions: latency at ${fmtInt(rate)} commands/s for ${opts.latencySeconds} s`);
  const childBefore = await child.ask({ stats: true }, isStats);
  const pgBefore = await transactionsCommitted(db);
  const machineBefore = machineCpuTimes();
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const benchCpuBefore = process.cpuUsage();
  const t0 = nowMs();
  const publishes: Array<Promise<unknown>> = [];
  for (let i = 0; i < count; i++) {
    const dueMs = t0 + (i * 1000) / rate;
    dueAt[i] = dueMs;
    const waitMs = dueMs - nowMs();
    if (waitMs > 1) await sleep(waitMs);
    // Round by round: one account's next command comes a whole round later.
    const command = commandOf('l', i % accounts, Math.floor(i / accounts), `${inbox}.${i}`);
    sentAt[i] = nowMs();
    const subject = names.commandSubject(partitionOf(command.userId, opts.partitions), command.userId);
    if (opts.latencyPublish === 'core') {
      const h = headers();
      h.set('Nats-Msg-Id', command.commandId);
      ctx.nc.publish(subject, JSON.stringify(command), { headers: h });
    } else {
      publishes.push(js.publish(subject, JSON.stringify(command), { msgID: command.commandId }));
    }
  }
  await Promise.all(publishes);
  await ctx.nc.flush();
  await until('every reply', () => replied >= count, 60_000, 20).catch(() => undefined);
  if (opts.latencyDump) {
    // One line a command, to see when in the phase the slow ones were sent and on which partitions.
    const lines = ['command\tround\tpartition\tsent_ms_into_phase\tlatency_ms'];
    for (let i = 0; i < count; i++) {
      const userId = commandOf('l', i % accounts, 0).userId;
      const latency = repliedAt[i]! === 0 ? 'none' : (repliedAt[i]! - sentAt[i]!).toFixed(1);
      lines.push(`${i}\t${Math.floor(i / accounts)}\t${partitionOf(userId, opts.partitions)}\t${(sentAt[i]! - t0).toFixed(1)}\t${latency}`);
    }
    const file = `${opts.latencyDump}-${names.namespace}.tsv`;
    await writeFile(file, `${lines.join('\n')}\n`);
    ctx.say(`transitions: each command's latency written to ${file}`);
  }
  subscription.unsubscribe();
  const benchCpu = process.cpuUsage(benchCpuBefore);
  loopDelay.disable();
  const machineAfter = machineCpuTimes();
  const childAfter = await child.ask({ stats: true }, isStats);
  const phaseMs = nowMs() - t0;
  const pgTransactions = await transactionsCommittedSince(db, pgBefore);
  // Every reply is also an audit row: the latency phase applied what it sent.
  const rows = (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM account_state_transitions')).rows[0]?.n ?? 0;
  if (rows !== side.applied + count) ctx.say(`transitions: after the latency phase ${rows} audit rows, expected ${side.applied + count}`);
  const latencies: number[] = [];
  const byRound: number[][] = plan.map(() => []);
  const late: number[] = [];
  for (let i = 0; i < count; i++) {
    late.push(sentAt[i]! - dueAt[i]!);
    if (repliedAt[i]! === 0) continue;
    latencies.push(repliedAt[i]! - sentAt[i]!);
    byRound[Math.floor(i / accounts)]?.push(repliedAt[i]! - sentAt[i]!);
  }
  return {
    rate, sent: count, replied,
    p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: Math.max(...latencies),
    roundP99Ms: byRound.map((sample) => percentile(sample, 99)),
    cpuMsPerCommand: (childAfter.cpuMs - childBefore.cpuMs) / count,
    pgTransactionsPerCommand: pgTransactions / count,
    natsMessagesOutPerCommand: (childAfter.natsMessagesOut - childBefore.natsMessagesOut) / count,
    loopBusyShare: (childAfter.loopActiveMs - childBefore.loopActiveMs) / phaseMs,
    cpuShare: (childAfter.cpuMs - childBefore.cpuMs) / phaseMs,
    machineBusyShare: 1 - (machineAfter.idle - machineBefore.idle) / Math.max(1, machineAfter.total - machineBefore.total),
    benchLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    publishLateP99Ms: percentile(late, 99),
    benchCpuShare: (benchCpu.user + benchCpu.system) / 1000 / phaseMs,
  };
}

/** CPU time of every core of the machine since boot (ms): idle, and in all. */
function machineCpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    idle += cpu.times.idle;
    total += cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.idle + cpu.times.irq;
  }
  return { idle, total };
}

function report(opts: Options, ours: SideResult, raw: SideResult): SuiteResult {
  const ratio = ours.perSec / raw.perSec;
  const figures: SuiteResult['figures'] = [
    {
      measure: `transitions/s end to end, ${fmtInt(opts.accounts)} accounts × ${plan.length} (audit rows + events present); median of ${ours.runs.length} runs a side, interleaved`,
      ours: `${fmtInt(ours.perSec)} /s`,
      baseline: `raw JetStream + Postgres pipeline ${fmtInt(raw.perSec)} /s`,
      ratio,
      ratioMeaning: 'ours ÷ raw',
      goal: '≥ 0.5× (stretch 0.8×)',
      met: ratio >= 0.5,
    },
  ];
  if (ours.latency) {
    const atHalf = opts.latencyRatePercent === 50;
    figures.push({
      measure: `p99 command latency at ${atHalf ? 'half' : `${opts.latencyRatePercent}% of`} the sustained rate (${fmtInt(ours.latency.rate)} commands/s, publish → reply)`,
      ours: `${fmtMs(ours.latency.p99Ms)} (p50 ${fmtMs(ours.latency.p50Ms)})`,
      baseline: raw.latency ? `raw pipeline at the same rate ${fmtMs(raw.latency.p99Ms)} (p50 ${fmtMs(raw.latency.p50Ms)})` : 'n/a',
      ratio: raw.latency ? raw.latency.p99Ms / ours.latency.p99Ms : null,
      ratioMeaning: 'raw ÷ ours',
      ...(atHalf ? { goal: 'ours ≤ 50 ms', met: ours.latency.p99Ms <= 50 && ours.latency.replied === ours.latency.sent } : {}),
    });
  }
  figures.push({
    measure: 'Postgres transactions per transition',
    ours: ours.pgTransactionsPerTransition.toFixed(3),
    baseline: `raw ${raw.pgTransactionsPerTransition.toFixed(3)}`,
    ratio: raw.pgTransactionsPerTransition / ours.pgTransactionsPerTransition,
    ratioMeaning: 'raw ÷ ours',
  });
  figures.push({
    measure: 'CPU time of the side\'s process per transition: throughput phase; latency phase (paced)',
    ours: `${ours.cpuMsPerTransition.toFixed(3)} ms; ${ours.latency ? ours.latency.cpuMsPerCommand.toFixed(3) : 'n/a'} ms`,
    baseline: `raw ${raw.cpuMsPerTransition.toFixed(3)} ms; ${raw.latency ? raw.latency.cpuMsPerCommand.toFixed(3) : 'n/a'} ms`,
    ratio: raw.cpuMsPerTransition / ours.cpuMsPerTransition,
    ratioMeaning: 'raw ÷ ours, throughput phase',
  });
  figures.push({
    measure: 'NATS messages sent per transition (KV writes/reads, events, acks, replies)',
    ours: ours.natsMessagesOutPerTransition.toFixed(2),
    baseline: `raw ${raw.natsMessagesOutPerTransition.toFixed(2)}`,
    ratio: raw.natsMessagesOutPerTransition / ours.natsMessagesOutPerTransition,
    ratioMeaning: 'raw ÷ ours',
  });
  const details: string[] = [];
  details.push(
    `### transitions\n\n${fmtInt(opts.accounts)} accounts × ${plan.length} transitions = ${fmtInt(ours.transitions)} commands, ${opts.partitions} partitions, published round by round ` +
    `on their partition subjects after the side was ready and had handled an untimed warm-up of a quarter as many accounts; timed from the first publish to the last event's arrival. ` +
    `Each side ran ${ours.runs.length} times, the sides taking turns (engine first in odd rounds): engine ${ours.runs.map((r) => fmtInt(r)).join(', ')} /s; ` +
    `raw pipeline ${raw.runs.map((r) => fmtInt(r)).join(', ')} /s; ratio by round ${ours.runs.map((r, i) => `${(r / (raw.runs[i] ?? Number.NaN)).toFixed(2)}×`).join(', ')}. ` +
    `Medians: engine ${fmtMs(ours.ms)}, raw pipeline ${fmtMs(raw.ms)}. ` +
    (ours.latency ? `Latency phase: ${fmtInt(ours.latency.sent)} commands at ${fmtInt(ours.latency.rate)}/s, ${fmtInt(ours.latency.replied)} replied, max ${fmtMs(ours.latency.maxMs)}` +
      (raw.latency ? `; raw ${fmtInt(raw.latency.replied)} replied, max ${fmtMs(raw.latency.maxMs)}` : '') + '.' : ''),
  );
  const latencyLine = (name: string, l: LatencyResult): string =>
    `${name}: p99 by round ${l.roundP99Ms.map((ms, round) => `${round}: ${fmtMs(ms)}`).join(', ')} (round 0 creates the accounts); ` +
    `${l.pgTransactionsPerCommand.toFixed(2)} Postgres transactions and ${l.natsMessagesOutPerCommand.toFixed(2)} NATS messages sent per command; ` +
    `its event loop busy ${(l.loopBusyShare * 100).toFixed(0)}% of the phase while it ran on a CPU ${(l.cpuShare * 100).toFixed(0)}% of it; machine CPU busy ${(l.machineBusyShare * 100).toFixed(0)}% (every process on the box); the bench's own process (the load generator) on a CPU ${(l.benchCpuShare * 100).toFixed(0)}% of it, its event-loop delay p99 ${fmtMs(l.benchLoopDelayP99Ms)}, ` +
    `publishes late behind schedule p99 ${fmtMs(l.publishLateP99Ms)}.`;
  if (ours.latency) details.push(`Latency phase, ${latencyLine('engine', ours.latency)}${raw.latency ? ` ${latencyLine('Raw pipeline', raw.latency)}` : ''}`);
  if (ours.profile) {
    details.push(`CPU profile of the engine process (node --cpu-prof, start-up, throughput and latency phases): idle ${(ours.profile.idleShare * 100).toFixed(0)}%, GC ${(ours.profile.gcShare * 100).toFixed(0)}%; most self time:\n\n` +
      ours.profile.top.map((t) => `- ${(t.share * 100).toFixed(1)}% ${t.fn}`).join('\n'));
  }
  return {
    figures,
    details,
    raw: { ours, raw },
    settings: { ...opts, cpus: os.cpus().length, engineLimits: limits },
  };
}

/**
 * Suite `transitions`: account transitions through the engine's command path against the raw
 * JetStream + Postgres pipeline (bench/raw-pipeline.ts), both in the same run.
 *
 * For each side, on a scratch database and namespace of its own: the side starts in a process of
 * its own (bench/engine-child.ts starts the engine as `npm start` does; bench/raw-pipeline-child.ts)
 * and is ready (it owns every partition), then N accounts × 5 transitions are published as commands
 * on their partition subjects (round by round, as the command client would) and the side is
 * timed until every audit row and every event is present. Then a latency phase: commands at
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
import { mkdir, readdir, readFile } from 'node:fs/promises';
import type { Profiler } from 'node:inspector';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
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
import { benchNamespace, createBenchDatabase, deleteNamespaceStreams, fmtInt, fmtMs, nowMs, percentile, sleep, until } from './support.js';

/** Five allowed moves per account. */
const plan: Array<{ target: AccountState; authority: Authority; reasonCode: string }> = [
  { target: 'pending_kyc', authority: 'self', reasonCode: 'signup' },
  { target: 'kyc_approved', authority: 'system', reasonCode: 'kyc_pass' },
  { target: 'active', authority: 'system', reasonCode: 'first_deposit' },
  { target: 'suspended', authority: 'admin', reasonCode: 'dispute' },
  { target: 'active', authority: 'admin', reasonCode: 'dispute_closed' },
];

interface SideResult {
  transitions: number;
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
    latencySeconds: int('BENCH_TRANSITIONS_LATENCY_SECONDS', 10, 5),
    // The goal is judged at half (50); another share shows where the latency knee is on a given box.
    latencyRatePercent: int('BENCH_TRANSITIONS_LATENCY_RATE_PERCENT', 50, 50),
    profileDir: process.env.BENCH_PROFILE_DIR,
  };
}
type Options = ReturnType<typeof readOptions>;

export const transitionsSuite: BenchSuite = {
  name: 'transitions',
  description: 'N accounts × 5 transitions through the engine vs the raw JetStream + Postgres pipeline; p99 latency at half the sustained rate',
  async run(ctx) {
    const opts = readOptions(ctx.quick);
    const total = opts.accounts * plan.length;
    ctx.say(`transitions: ${fmtInt(opts.accounts)} accounts × ${plan.length} = ${fmtInt(total)} transitions, ${opts.partitions} partitions; engine first`);
    const ours = await runSide(ctx, opts, 'engine', null);
    ctx.say(`transitions: engine ${fmtInt(ours.perSec)}/s, p99 ${fmtMs(ours.latency?.p99Ms ?? Number.NaN)}; now the raw pipeline`);
    const raw = await runSide(ctx, opts, 'raw', ours.latency?.rate ?? null);
    ctx.say(`transitions: raw ${fmtInt(raw.perSec)}/s, p99 ${fmtMs(raw.latency?.p99Ms ?? Number.NaN)}`);
    return report(opts, ours, raw);
  },
};

async function runSide(ctx: BenchContext, opts: Options, kind: 'engine' | 'raw', latencyRate: number | null): Promise<SideResult> {
  const db = await createBenchDatabase(ctx.serverUrl, `tr_${kind}`, ctx.log, 10);
  const names = natsNames(benchNamespace());
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanupAll = async (): Promise<void> => {
    for (const task of cleanups.splice(0).reverse()) await task().catch(() => undefined);
  };
  ctx.cleanup.add(`transitions ${kind}`, cleanupAll);
  cleanups.push(() => db.drop());
  cleanups.push(() => deleteNamespaceStreams(ctx.nc, names));
  try {
    await ensureAccountTopology(ctx.nc, names);
    const side = await startSide(ctx, opts, names, db.url, kind);
    cleanups.push(() => side.child.stop());
    await until(`the ${kind} to own every partition`, async () => (await side.child.ask({ stats: true }, isStats)).partitionsOwned === opts.partitions, 60_000, 100);

    // Warm-up, not timed: a quarter as many accounts again, so both sides run JIT-compiled code
    // and have their pools and consumers going before the clock starts.
    const warmAccounts = Math.max(200, Math.round(opts.accounts / 4));
    const warm = warmAccounts * plan.length;
    await publishBacklog(ctx.nc, names, opts, warmAccounts, 'w');
    await waitForAll(ctx, db.pool, names, warm, `${kind} warm-up`);

    const childBefore = await side.child.ask({ stats: true }, isStats);
    const statsBefore = { pg: await transactionsCommitted(db.pool, db.name), nats: childBefore.natsMessagesOut, cpuMs: childBefore.cpuMs };
    const t0 = nowMs();
    await publishBacklog(ctx.nc, names, opts, opts.accounts, 'u');
    const total = opts.accounts * plan.length;
    await waitForAll(ctx, db.pool, names, warm + total, `${kind} transitions`);
    const ms = nowMs() - t0;
    await sleep(1_000); // pg_stat_database is flushed by backends at most every 500 ms
    const pgTx = (await transactionsCommitted(db.pool, db.name)) - statsBefore.pg;
    const childAfter = await side.child.ask({ stats: true }, isStats);
    const natsOut = childAfter.natsMessagesOut - statsBefore.nats;
    const perSec = total / (ms / 1000);

    const rate = latencyRate ?? Math.max(50, Math.round((perSec * opts.latencyRatePercent) / 100));
    const latency = await measureLatency(ctx, names, opts, rate, warm + total, db.pool, side.child);
    await side.child.stop();
    let profile: ProfileSummary | undefined;
    if (side.profilePath) {
      profile = await mainThreadProfile(side.profilePath);
      ctx.say(`transitions: CPU profile of the ${kind} process (throughput and latency phases) written to ${side.profilePath}`);
    }
    return {
      transitions: total, ms, perSec,
      // The bench's own polling (≈ 1 statement per 100 ms) is inside these counts; it is small.
      pgTransactionsPerTransition: pgTx / total,
      natsMessagesOutPerTransition: natsOut / total,
      // Includes the second of idling before it (small).
      cpuMsPerTransition: (childAfter.cpuMs - statsBefore.cpuMs) / total,
      latency,
      ...(profile ? { profile } : {}),
    };
  } finally {
    await cleanupAll();
  }
}

async function startSide(ctx: BenchContext, opts: Options, names: NatsNames, databaseUrl: string, kind: 'engine' | 'raw'): Promise<Side> {
  // One directory per side: node writes a profile per thread (tsx's loader runs in a thread of its own).
  const profilePath = opts.profileDir ? path.resolve(opts.profileDir, `transitions-${kind}`) : null;
  if (profilePath) await mkdir(profilePath, { recursive: true });
  const nodeArgs = profilePath ? ['--cpu-prof', `--cpu-prof-dir=${profilePath}`] : [];
  const child = await startBenchChild(kind === 'engine' ? 'bench/engine-child.ts' : 'bench/raw-pipeline-child.ts', {
    NATS_URL: ctx.natsUrl,
    DATABASE_URL: databaseUrl,
    NAMESPACE: names.namespace,
    COMMAND_PARTITIONS: String(opts.partitions),
    LOG_LEVEL: 'warn',
  }, nodeArgs);
  return { child, profilePath };
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

async function transactionsCommitted(pool: Pool, database: string): Promise<number> {
  const result = await pool.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1', [database]);
  return Number(result.rows[0]?.n ?? 0);
}

/** Commands at `rate`/s for the configured seconds, each with a replyTo; latency = reply received − publish sent. */
async function measureLatency(ctx: BenchContext, names: NatsNames, opts: Options, rate: number, alreadyApplied: number, pool: Pool, child: BenchChild): Promise<LatencyResult> {
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
  const machineBefore = machineCpuTimes();
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
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
    publishes.push(js.publish(names.commandSubject(partitionOf(command.userId, opts.partitions), command.userId), JSON.stringify(command), { msgID: command.commandId }));
  }
  await Promise.all(publishes);
  await until('every reply', () => replied >= count, 60_000, 20).catch(() => undefined);
  subscription.unsubscribe();
  loopDelay.disable();
  const machineAfter = machineCpuTimes();
  const childAfter = await child.ask({ stats: true }, isStats);
  const phaseMs = nowMs() - t0;
  // Every reply is also an audit row: the latency phase applied what it sent.
  const rows = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM account_state_transitions')).rows[0]?.n ?? 0;
  if (rows !== alreadyApplied + count) ctx.say(`transitions: after the latency phase ${rows} audit rows, expected ${alreadyApplied + count}`);
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
    loopBusyShare: (childAfter.loopActiveMs - childBefore.loopActiveMs) / phaseMs,
    cpuShare: (childAfter.cpuMs - childBefore.cpuMs) / phaseMs,
    machineBusyShare: 1 - (machineAfter.idle - machineBefore.idle) / Math.max(1, machineAfter.total - machineBefore.total),
    benchLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    publishLateP99Ms: percentile(late, 99),
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
      measure: `transitions/s end to end, ${fmtInt(opts.accounts)} accounts × ${plan.length} (audit rows + events present)`,
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
    `on their partition subjects after the side was ready and had handled an untimed warm-up of a quarter as many accounts. Engine: ${fmtMs(ours.ms)}; raw pipeline: ${fmtMs(raw.ms)}. ` +
    (ours.latency ? `Latency phase: ${fmtInt(ours.latency.sent)} commands at ${fmtInt(ours.latency.rate)}/s, ${fmtInt(ours.latency.replied)} replied, max ${fmtMs(ours.latency.maxMs)}` +
      (raw.latency ? `; raw ${fmtInt(raw.latency.replied)} replied, max ${fmtMs(raw.latency.maxMs)}` : '') + '.' : ''),
  );
  const latencyLine = (name: string, l: LatencyResult): string =>
    `${name}: p99 by round ${l.roundP99Ms.map((ms, round) => `${round}: ${fmtMs(ms)}`).join(', ')} (round 0 creates the accounts); ` +
    `its event loop busy ${(l.loopBusyShare * 100).toFixed(0)}% of the phase while it ran on a CPU ${(l.cpuShare * 100).toFixed(0)}% of it; machine CPU busy ${(l.machineBusyShare * 100).toFixed(0)}% (every process on the box); the bench's own event-loop delay p99 ${fmtMs(l.benchLoopDelayP99Ms)}, ` +
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

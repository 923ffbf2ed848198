/**
 * What every bench phase needs: the services (local ones when they answer, embedded ones
 * otherwise, as the tests find them), a database and a NATS namespace of its own that are
 * removed at the end, and a few statistics helpers.
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { createPool, type Pool } from '../src/db/pool.js';
import { findLocalServices } from '../src/embedded/local-services.js';
import { resolveServices, type ResolvedServices } from '../src/embedded/services.js';
import type { NatsNames } from '../src/nats/names.js';
import type { Logger } from '../src/observability/logger.js';
import { removeTopology } from '../src/nats/topology.js';
import { createScratchDatabase, withClient } from '../src/db/scratch-database.js';


/**
 * BENCH_NATS_URL / BENCH_DATABASE_URL if set, else the local default ports if they answer
 * (NATS with JetStream on, Postgres with trust auth), else private embedded servers
 * (always, with BENCH_SERVICES=embedded).
 */
export async function findServices(log: Logger): Promise<ResolvedServices> {
  const found = await findLocalServices({
    ...(process.env.BENCH_NATS_URL ? { natsUrl: process.env.BENCH_NATS_URL } : {}),
    ...(process.env.BENCH_DATABASE_URL ? { databaseUrl: process.env.BENCH_DATABASE_URL } : {}),
    probeLocal: process.env.BENCH_SERVICES !== 'embedded',
    log,
  });
  return resolveServices({ ...found, log });
}

export { withClient };

export interface BenchDatabase {
  url: string;
  name: string;
  pool: Pool;
  drop(): Promise<void>;
}

/** A fresh, migrated database on the server; drop() ends the pool and drops it (idempotent). */
export async function createBenchDatabase(serverUrl: string, tag: string, log: Logger, poolMax = 8): Promise<BenchDatabase> {
  const scratch = await createScratchDatabase(serverUrl, `recon_bench_${tag}`, log);
  const pool = createPool(scratch.url, poolMax);
  let dropping: Promise<void> | undefined;
  return {
    url: scratch.url,
    name: scratch.name,
    pool,
    drop() {
      dropping ??= (async () => {
        await pool.end().catch(() => undefined);
        await scratch.drop();
      })();
      return dropping;
    },
  };
}

/** `b` + 8 hex digits: valid for natsNames() (letters and digits, ≤ 32). */
export function benchNamespace(): string {
  return `b${randomBytes(4).toString('hex')}`;
}

/** Every stream and bucket a namespace may have made on the shared server goes. */
export async function deleteNamespaceStreams(nc: NatsConnection, names: NatsNames): Promise<void> {
  await removeTopology(nc, names);
}

/** Cleanups registered as resources are made, run in reverse order once (normal end, error or Ctrl-C). */
export class Cleanup {
  private readonly tasks: Array<{ what: string; run: () => Promise<unknown> }> = [];
  private running: Promise<void> | null = null;

  add(what: string, run: () => Promise<unknown>): void {
    this.tasks.push({ what, run });
  }

  runAll(log: (line: string) => void): Promise<void> {
    this.running ??= (async () => {
      for (const task of this.tasks.reverse()) {
        try {
          await task.run();
        } catch (error) {
          log(`cleanup: ${task.what} failed: ${(error as Error).message}`);
        }
      }
      this.tasks.length = 0;
    })();
    return this.running;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Wall-clock ms since the epoch with sub-ms resolution (one clock for every timestamp in the bench). */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** Polls until `probe` holds; `slow` is called every 5 s of waiting (progress on a loaded box). */
export async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs: number, pollMs = 10, slow?: () => void): Promise<void> {
  const started = Date.now();
  let nextReport = started + 5_000;
  while (!(await probe())) {
    const now = Date.now();
    if (now > started + timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    if (slow && now >= nextReport) {
      slow();
      nextReport = now + 5_000;
    }
    await sleep(pollMs);
  }
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** Nearest-rank percentile of a non-empty sample. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export const median = (sample: readonly number[]): number => percentile(sample, 50);

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1_000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  return Math.round(n).toLocaleString('en-US');
}

export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return 'n/a';
  if (r >= 100) return `${r.toFixed(0)}×`;
  if (r >= 10) return `${r.toFixed(1)}×`;
  return `${r.toFixed(2)}×`;
}

export function fmtRows(n: number): string {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n >= 1_000 && n % 1_000 === 0) return `${n / 1_000}k`;
  return fmtInt(n);
}

/** Runs `fn` the first time only; later calls get the first call's promise (a stop safe to call twice). */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let first: Promise<T> | undefined;
  return () => (first ??= fn());
}

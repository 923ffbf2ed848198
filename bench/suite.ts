/**
 * What a bench suite is: a name, and a run that measures figures, each beside a baseline
 * measured in the same run. The runner (bench/run.ts) prints every suite's figures as one
 * table and writes them to JSON. A new suite is one file exporting a `BenchSuite` and one
 * line in bench/suites.ts.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from '../src/observability/logger.js';
import type { Cleanup } from './support.js';

export interface BenchContext {
  /** PostgreSQL server URL (a suite makes its own scratch databases on it). */
  serverUrl: string;
  natsUrl: string;
  /** The runner's own connection (suites make their own namespaces on it and remove them). */
  nc: NatsConnection;
  log: Logger;
  cleanup: Cleanup;
  /** A progress line on stderr. */
  say(line: string): void;
  quick: boolean;
}

/**
 * One line of the summary table. `ratio` is ours ÷ baseline when more is better (throughput),
 * baseline ÷ ours when less is better (times, bytes): > 1 means ours is better in both cases,
 * except where `ratioMeaning` says otherwise.
 */
export interface Figure {
  measure: string;
  ours: string;
  baseline: string;
  ratio: number | null;
  ratioMeaning?: string;
  /** The goal this figure is judged against, and whether this run met it. */
  goal?: string;
  met?: boolean;
}

export interface SuiteResult {
  figures: Figure[];
  /** Markdown sections with the details behind the figures. */
  details: string[];
  /** Raw numbers for the JSON file. */
  raw: unknown;
  /** The settings this suite ran with (sizes, rates), recorded with the run. */
  settings: Record<string, unknown>;
}

export interface BenchSuite {
  name: string;
  /** One line for `--help` and the report. */
  description: string;
  run(ctx: BenchContext): Promise<SuiteResult>;
}

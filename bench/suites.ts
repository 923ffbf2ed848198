/** Every bench suite, in the order `npm run bench` runs them. A new suite: one file, one line here. */
import { runEodBench } from './eod.bench.js';
import { meDbSuite } from './me-db.bench.js';
import { moneySuite } from './money.bench.js';
import { memorySuite } from './memory.bench.js';
import type { BenchSuite } from './suite.js';
import { transitionsSuite } from './transitions.bench.js';

export const suites: readonly BenchSuite[] = [
  transitionsSuite,
  memorySuite,
  meDbSuite,
  { name: 'eod', description: 'the close beside a raw COPY', run: (ctx) => runEodBench(ctx) },
  moneySuite,
];

/**
 * The close's money steps at scale (issue 9): `pnl`, `fee_accrual` and `volume_rollup` over one
 * business day of N fills for U users, each timed beside the same aggregation done as one raw
 * SQL query in the same run, and the largest-remainder reward split over U stakers.
 *
 *   npx tsx bench/money.bench.ts                    # 100k users, 1M fills
 *   npx tsx bench/money.bench.ts --quick            # 10k users, 100k fills
 *   BENCH_MONEY_USERS=… BENCH_MONEY_FILLS=…         # other sizes
 *
 * It also exports `moneySuite`, shaped like a bench registry suite (name, description, run):
 * one line in bench/suites.ts registers it once that runner is on main. The database is a
 * scratch one of its own, dropped at the end.
 */
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { loadSettings } from '../src/config/settings.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { createScratchDatabase } from '../src/db/scratch-database.js';
import { withTransaction } from '../src/db/transaction.js';
import { businessWindow } from '../src/eod/business-date.js';
import { splitPool } from '../src/eod/money/rewards.js';
import { feeAccrualStep } from '../src/eod/steps/fee-accrual.js';
import { pnlStep } from '../src/eod/steps/pnl.js';
import type { EodStep, EodStepContext } from '../src/eod/steps/step.js';
import { volumeRollupStep } from '../src/eod/steps/volume-rollup.js';
import { createLogger, type Logger } from '../src/observability/logger.js';

export interface MoneyBenchContext {
  serverUrl: string;
  nc: NatsConnection;
  log: Logger;
  quick: boolean;
  say(line: string): void;
}

interface Figure { measure: string; ours: string; baseline: string; ratio: number | null; ratioMeaning?: string }

const date = '2026-06-15';
const window = businessWindow(date, { time: '00:00', zone: 'UTC' });

/** N fills over U users on 3 markets inside the day, with the fee legs' total on house:fees_unaccrued. */
async function generateDay(pool: Pool, users: number, fills: number): Promise<void> {
  await pool.query(
    `INSERT INTO fills (fill_id, seq, user_id, market, base, quote, side, liquidity, price, quantity, fee, fee_currency, ts)
     SELECT 'f' || g, g, 'u' || lpad(((g * 7919) % $2)::text, 6, '0'),
            m.market, m.base, m.quote,
            CASE WHEN g % 2 = 0 THEN 'buy' ELSE 'sell' END, CASE WHEN g % 3 = 0 THEN 'maker' ELSE 'taker' END,
            round(m.ref * (0.95 + ((g * 31) % 1000) / 10000.0), 8), round(0.001 + ((g * 17) % 1000) / 1000.0, 8),
            round(0.0001 + ((g * 13) % 100) / 100000.0, 8), CASE WHEN g % 2 = 0 THEN m.base ELSE m.quote END,
            $3::timestamptz + make_interval(secs => (g % 86000))
       FROM generate_series(1::bigint, $1::bigint) AS g
       JOIN (VALUES (0, 'BTC-USDT', 'BTC', 'USDT', 60000.0), (1, 'ETH-USDT', 'ETH', 'USDT', 3000.0), (2, 'ETH-BTC', 'ETH', 'BTC', 0.05)) AS m(k, market, base, quote, ref)
         ON m.k = g % 3`, [fills, users, new Date(window.startMs + 60_000).toISOString()]);
  // The trade journals' fee legs, summed: house:fees_unaccrued credited with exactly the fills' fees.
  await pool.query(
    `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
     SELECT 'fees-' || fee_currency, acct, fee_currency, CASE WHEN acct = 'house:fees_unaccrued' THEN s ELSE -s END, 'trade', 'bench', $1
       FROM (SELECT fee_currency, sum(fee) AS s FROM fills GROUP BY fee_currency) f, (VALUES ('house:fees_unaccrued'), ('house:bench')) AS a(acct)`,
    [new Date(window.startMs + 30_000).toISOString()]);
  await pool.query('ANALYZE fills; ANALYZE ledger_entries');
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { ms: performance.now() - start, value };
}

async function runStep(step: EodStep, context: EodStepContext, pool: Pool): Promise<void> {
  const result = await step.run(context);
  if (result.write) await withTransaction(pool, (client) => result.write!(client));
}

/** One raw query doing what the three steps aggregate: position and cash per (user, market), fees per (user, currency), notional per (user, quote). */
const rawAggregation = `
  SELECT 'pnl' AS k, user_id, market AS key, sum(CASE WHEN side = 'buy' THEN quantity ELSE -quantity END) AS a, sum(CASE WHEN side = 'buy' THEN -quantity * price ELSE quantity * price END) AS b
    FROM fills WHERE ts >= $1 AND ts < $2 GROUP BY user_id, market
  UNION ALL
  SELECT 'fee', user_id, fee_currency, sum(fee), count(*) FROM fills WHERE ts >= $1 AND ts < $2 GROUP BY user_id, fee_currency
  UNION ALL
  SELECT 'volume', user_id, quote, sum(quantity * price), count(*) FROM fills WHERE ts >= $3 AND ts < $2 GROUP BY user_id, quote`;

export const moneySuite = {
  name: 'money',
  description: 'the close\'s pnl, fee_accrual and volume_rollup over a day of fills, beside one raw SQL aggregation; the reward split',
  async run(ctx: MoneyBenchContext) {
    const users = Number(process.env.BENCH_MONEY_USERS ?? (ctx.quick ? 10_000 : 100_000));
    const fills = Number(process.env.BENCH_MONEY_FILLS ?? (ctx.quick ? 100_000 : 1_000_000));
    const db = await createScratchDatabase(ctx.serverUrl, 'recon_bench_money', ctx.log);
    const pool = createPool(db.url, 4);
    try {
      ctx.say(`money: generating ${fills} fills for ${users} users`);
      const generated = await timed(() => generateDay(pool, users, fills));
      const settings = loadSettings({}, { LOG_LEVEL: 'silent', NAMESPACE: 'benchmoney' });
      const context = {
        date, window, previousSealedDate: null, pool, nc: ctx.nc, settings, log: ctx.log, signal: new AbortController().signal,
        saltSeed: () => new Uint8Array(32), engineCaughtUp: async () => true,
        shared: (() => {
          const memo = new Map<string, Promise<unknown>>();
          return <T>(key: string, compute: () => Promise<T>): Promise<T> => {
            if (!memo.has(key)) memo.set(key, compute());
            return memo.get(key) as Promise<T>;
          };
        })(),
      } as EodStepContext;
      const figures: Figure[] = [];
      const raw: Record<string, number> = { generateMs: Math.round(generated.ms) };
      const baseline = await timed(() => pool.query(rawAggregation, [new Date(window.startMs).toISOString(), new Date(window.endMs).toISOString(), new Date(window.startMs - 29 * 86_400_000).toISOString()]));
      raw.rawSqlMs = Math.round(baseline.ms);
      raw.rawSqlRows = baseline.value.rowCount ?? 0;
      let stepsMs = 0;
      for (const step of [pnlStep, feeAccrualStep(), volumeRollupStep]) {
        ctx.say(`money: ${step.name}`);
        const { ms } = await timed(() => runStep(step, context, pool));
        raw[`${step.name}Ms`] = Math.round(ms);
        stepsMs += ms;
      }
      raw.stepsMs = Math.round(stepsMs);
      const positions = Array.from({ length: users }, (_, i) => ({ userId: `u${String(i).padStart(6, '0')}`, amountMinor: BigInt(1 + ((i * 7919) % 100_000)) * 10n ** 15n }));
      const split = await timed(async () => splitPool(12_345_678_901_234_567_891n, positions));
      raw.rewardSplitMs = Math.round(split.ms);
      figures.push({ measure: `pnl + fee_accrual + volume_rollup, ${fills} fills, ${users} users`, ours: `${Math.round(stepsMs)} ms`, baseline: `${Math.round(baseline.ms)} ms (one raw SQL aggregation)`, ratio: baseline.ms / stepsMs, ratioMeaning: 'raw ÷ ours (the steps also compute WAC in order, round, write positions, tiers and journals)' });
      for (const step of ['pnl', 'fee_accrual', 'volume_rollup']) figures.push({ measure: step, ours: `${raw[`${step}Ms`]} ms`, baseline: '-', ratio: null });
      figures.push({ measure: `reward split, ${users} stakers`, ours: `${raw.rewardSplitMs} ms`, baseline: '-', ratio: null });
      return { figures, details: [], raw, settings: { users, fills, date } };
    } finally {
      await pool.end().catch(() => undefined);
      await db.drop();
    }
  },
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
  const log = createLogger('bench-money', process.env.LOG_LEVEL ?? 'warn');
  const nc = await connect({ servers: process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222' });
  try {
    const result = await moneySuite.run({ serverUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', nc, log, quick: values.quick === true, say: (line) => process.stderr.write(`${line}\n`) });
    for (const f of result.figures) console.log(`${f.measure.padEnd(60)} ours ${f.ours.padEnd(12)} baseline ${f.baseline}${f.ratio === null ? '' : `  ratio ${f.ratio.toFixed(2)}`}`);
    console.log(JSON.stringify(result.raw));
  } finally {
    await nc.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}

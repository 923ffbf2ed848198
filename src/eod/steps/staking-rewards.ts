import { decimalToMinor } from '../../config/decimal.js';
import { natsNames } from '../../nats/names.js';
import { adjustBalanceEffect, recordEngineCommands } from '../../recon/engine-command-outbox.js';
import { splitPool } from '../money/rewards.js';
import { moneyScale } from '../money/rounding.js';
import { cutSides } from './cut-sides.js';
import { iso, linesListedMax, minor, postingInstant, whole } from './money-inputs.js';
import type { EodStep } from './step.js';

export const houseStakingRewards = 'house:staking_rewards';

/**
 * Step 5, behind the revenue-router gate (STAKING_REWARDS_ENABLED, closed by default): the day's
 * pool (STAKING_REWARDS_POOL, or the balance of house:staking_rewards at the cut) split pro rata
 * over the stakers' positions at the cut by the largest-remainder rule (Σ paid = pool exactly),
 * one balanced journal per staker (reference `<date>:<userId>`, unique: a re-run pays nothing
 * twice), dated at the cutover, and the same credit to the matching engine
 * (`me.cmd.adjust_balance`, command id = the journal id, through the outbox) so me_db stays quiet.
 */
export const stakingRewardsStep: EodStep = {
  name: 'staking_rewards',
  skipReason: (settings) => (settings.STAKING_REWARDS_ENABLED === 'on' ? null : 'the revenue-router gate is closed (STAKING_REWARDS_ENABLED=off)'),
  async run(context) {
    const { settings, pool, date } = context;
    const currency = settings.STAKING_REWARDS_CURRENCY;
    let poolMinor: bigint;
    let poolSource: string;
    if (settings.STAKING_REWARDS_POOL !== undefined) {
      poolMinor = decimalToMinor(settings.STAKING_REWARDS_POOL, moneyScale);
      poolSource = 'STAKING_REWARDS_POOL';
    } else {
      const { ledger } = await cutSides(context);
      poolMinor = ledger.balances.get(`${houseStakingRewards}/${currency}`)?.totalMinor ?? 0n;
      poolSource = `${houseStakingRewards} at the cut`;
    }
    const positions = await pool.query<{ user_id: string; amount: string }>(
      `SELECT user_id, sum(amount)::text AS amount FROM (
         SELECT DISTINCT ON (user_id, address) user_id, amount FROM staking_position_history
          WHERE updated_at < $1 ORDER BY user_id, address, id DESC) latest
        GROUP BY user_id`, [iso(context.window.endMs)]);
    const stakes = positions.rows.map((r) => ({ userId: r.user_id, amountMinor: minor(r.amount) }));
    const shares = poolMinor > 0n ? splitPool(poolMinor, stakes).filter((s) => s.rewardMinor > 0n) : [];
    const paidMinor = shares.reduce((s, x) => s + x.rewardMinor, 0n);
    const at = postingInstant(context);
    return {
      figures: {
        currency,
        pool: whole(poolMinor),
        poolSource,
        rule: 'largest remainder, ties to the smaller userId (ADR 0022)',
        stakers: stakes.filter((s) => s.amountMinor > 0n).length,
        staked: whole(stakes.reduce((s, x) => s + (x.amountMinor > 0n ? x.amountMinor : 0n), 0n)),
        paid: whole(paidMinor),
        postedAt: at,
        lines: shares.slice(0, linesListedMax).map((s) => ({ userId: s.userId, reward: whole(s.rewardMinor) })),
        linesOmitted: Math.max(0, shares.length - linesListedMax),
      },
      async write(client) {
        if (shares.length === 0) return;
        const refs = shares.map((s) => `${date}:${s.userId}`);
        const inserted = await client.query<{ reference_id: string }>(
          `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
           SELECT 'staking_reward:' || r, acct, $3, a, 'staking_reward', r, $5
             FROM unnest($1::text[], $2::text[], $6::numeric[]) AS x(r, u, f),
                  LATERAL (VALUES (u, f), ($4::text, -f)) AS legs(acct, a)
           ON CONFLICT DO NOTHING RETURNING reference_id`,
          [refs, shares.map((s) => s.userId), currency, houseStakingRewards, at, shares.map((s) => whole(s.rewardMinor))]);
        // The engine's side, recorded in the same transaction (ADR 0020's outbox): the leader's
        // drainer sends each once the step commits, and never for a posting that rolled back.
        const names = natsNames(context.settings.NAMESPACE);
        const fresh = new Set(inserted.rows.map((r) => r.reference_id));
        const credits = shares
          .filter((s) => fresh.has(`${date}:${s.userId}`))
          .map((s) => adjustBalanceEffect(names, { commandId: `staking_reward:${date}:${s.userId}`, userId: s.userId, currency, amount: whole(s.rewardMinor) }, at));
        await recordEngineCommands(client, credits);
      },
    };
  },
};

import { decimalToMinor, minorToDecimal, signedDecimalToMinor } from '../../config/decimal.js';
import { custodyAccount, dbCustodyDisabledReason } from '../../recon/db-custody/index.js';
import { keyOf, moneyScale } from '../cut-balances.js';
import { cutSides } from './cut-sides.js';
import { EodStepFailure, type CutBreak, type EodStep, type JsonObject } from './step.js';

const whole = (m: bigint): string => minorToDecimal(m, moneyScale);
const pollWaitMs = 1_000;

/**
 * Step 7, the db_custody seal at the cut: what the ledger says is held per asset (−Σ
 * house:custody of rows created before the cutover) against Σ wallet balances of the first
 * recorded poll at or after the cutover (waited for, within the step's timeout). The asset's
 * tolerance is its absolute setting plus the deposits and withdrawals in flight at the cut.
 */
export const reconDbCustodyStep: EodStep = {
  name: 'recon_db_custody',
  skipReason: (settings) => dbCustodyDisabledReason(settings),
  async run(context) {
    const { ledger } = await cutSides(context);
    const end = new Date(context.window.endMs).toISOString();
    const wallets = context.settings.BITGO_WALLETS;
    let polls: Array<{ wallet: string; currency: string; polled_at: Date; balance: string }> = [];
    for (;;) {
      const result = await context.pool.query<{ wallet: string; currency: string; polled_at: Date; balance: string }>(
        `SELECT DISTINCT ON (wallet) wallet, currency, polled_at, balance::text FROM custody_poll_readings
          WHERE polled_at >= $1 AND wallet = ANY($2::text[]) ORDER BY wallet, polled_at`,
        [end, wallets.map((w) => `${w.coin}:${w.walletId}`)]);
      polls = result.rows;
      if (polls.length === wallets.length) break;
      if (context.signal.aborted) throw new EodStepFailure(`no custody poll at or after the cutover for ${wallets.length - polls.length} wallet(s)`);
      await new Promise((resolve) => setTimeout(resolve, pollWaitMs));
    }
    const inFlight = await context.pool.query<{ currency: string; direction: string; total: string; items: string }>(
      `SELECT currency, direction, sum(amount)::text AS total, count(*)::text AS items FROM custody_in_flight
        WHERE created_at < $1 AND (status = 'pending' OR updated_at >= $1) GROUP BY currency, direction`, [end]);
    const currencies = [...new Set(wallets.map((w) => w.currency))].sort();
    const breaks: CutBreak[] = [];
    const perCurrency: JsonObject[] = [];
    for (const currency of currencies) {
      const heldMinor = -(ledger.balances.get(keyOf(custodyAccount, currency))?.totalMinor ?? 0n);
      const custodyMinor = polls.filter((p) => p.currency === currency).reduce((sum, p) => sum + signedDecimalToMinor(p.balance, moneyScale), 0n);
      const flights = inFlight.rows.filter((r) => r.currency === currency);
      const inFlightOf = (direction: string): bigint => signedDecimalToMinor(flights.find((f) => f.direction === direction)?.total ?? '0', moneyScale);
      const toleranceMinor = decimalToMinor(context.settings.CUSTODY_TOLERANCES[currency] ?? '0', moneyScale) + inFlightOf('deposit') + inFlightOf('withdrawal');
      const deltaMinor = heldMinor - custodyMinor;
      const within = (deltaMinor < 0n ? -deltaMinor : deltaMinor) <= toleranceMinor;
      if (!within) breaks.push({ boundary: 'db_custody', kind: 'balance', currency, left: whole(heldMinor), right: whole(custodyMinor), delta: whole(deltaMinor) });
      perCurrency.push({
        currency, ledgerHeld: whole(heldMinor), custody: whole(custodyMinor), delta: whole(deltaMinor), tolerance: whole(toleranceMinor), withinTolerance: within,
        inFlight: Object.fromEntries(['deposit', 'withdrawal', 'gas_fee', 'reward'].map((d) => [d, whole(inFlightOf(d))])),
      });
    }
    return {
      figures: {
        currencies: perCurrency,
        polls: polls.map((p) => ({ wallet: p.wallet, currency: p.currency, polledAt: p.polled_at.toISOString(), balance: whole(signedDecimalToMinor(p.balance, moneyScale)) })),
        breaks: breaks.length,
      },
      breaks,
    };
  },
};

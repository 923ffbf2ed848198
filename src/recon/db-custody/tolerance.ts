import { minorToDecimal } from '../../config/decimal.js';
import { moneyScale } from '../breaks/break.js';

/** The parts of an asset's tolerance (docs/bitgo-custody.md), all in ledger minor units (18 decimals), all ≥ 0. */
export interface ToleranceParts {
  /** CUSTODY_TOLERANCES for the asset. */
  absoluteMinor: bigint;
  /** custody_hot_wallet_floats for the asset. */
  floatMinor: bigint;
  /** Pending custody_in_flight deposits (on chain, not yet credited). */
  inFlightDepositsMinor: bigint;
  /** Pending custody_in_flight withdrawals (debited and sent, not yet confirmed). */
  inFlightWithdrawalsMinor: bigint;
}

/** What is known to make the two sides differ without being in the tolerance (docs/bitgo-custody.md). */
export interface KnownCauses {
  /** Pending custody_in_flight gas_fee rows: fees the hot wallet paid that the ledger has not booked. */
  unbookedGasMinor: bigint;
  /** Pending custody_in_flight reward rows: rewards received by a wallet, not yet distributed in the ledger. */
  undistributedRewardsMinor: bigint;
  /** Σ over the asset's wallets of BitGo's balance − confirmed balance (signed): funds still confirming. */
  custodianUnconfirmedMinor: bigint;
}

export const breakCauses = ['pending_confirmations', 'gas_fees', 'undistributed_rewards', 'several_known', 'unexplained'] as const;
export type BreakCause = (typeof breakCauses)[number];

export type CurrencyVerdict =
  /** |ledger − custody| ≤ absolute + float. */
  | { state: 'agree' }
  /** Within the tolerance only thanks to funds in flight. */
  | { state: 'in_flight' }
  /** Beyond the tolerance by `excessMinor`: a break once it outlives the grace window. */
  | { state: 'beyond'; excessMinor: bigint; cause: BreakCause; detail: string };

export interface CurrencyJudgement {
  currency: string;
  ledgerMinor: bigint;
  custodyMinor: bigint;
  /** ledger − custody (left − right, as the break's delta). */
  deltaMinor: bigint;
  toleranceMinor: bigint;
  verdict: CurrencyVerdict;
}

const abs = (v: bigint): bigint => (v < 0n ? -v : v);

/**
 * Compares what the ledger says is held with what custody holds. The tolerance is symmetric:
 * whether a deposit in flight already shows in BitGo's balance depends on the chain and on
 * BitGo, so in-flight amounts only widen the band, they never predict its side. A difference
 * beyond it is classified by the first known cause that alone covers the excess, on the side
 * the cause can explain (custody short: unconfirmed spends, unbooked gas; custody over:
 * unconfirmed receipts, undistributed rewards).
 */
export function judgeCurrency(
  currency: string,
  ledgerMinor: bigint,
  custodyMinor: bigint,
  tolerance: ToleranceParts,
  causes: KnownCauses,
): CurrencyJudgement {
  const deltaMinor = ledgerMinor - custodyMinor;
  const distance = abs(deltaMinor);
  const settledBand = tolerance.absoluteMinor + tolerance.floatMinor;
  const inFlight = tolerance.inFlightDepositsMinor + tolerance.inFlightWithdrawalsMinor;
  const toleranceMinor = settledBand + inFlight;
  const base = { currency, ledgerMinor, custodyMinor, deltaMinor, toleranceMinor };
  if (distance <= settledBand) return { ...base, verdict: { state: 'agree' } };
  if (distance <= toleranceMinor) return { ...base, verdict: { state: 'in_flight' } };

  const excessMinor = distance - toleranceMinor;
  const custodyShort = deltaMinor > 0n;
  const candidates: Array<{ cause: BreakCause; amountMinor: bigint; why: string }> = custodyShort
    ? [
        { cause: 'pending_confirmations', amountMinor: causes.custodianUnconfirmedMinor < 0n ? -causes.custodianUnconfirmedMinor : 0n, why: 'sent from the wallets, still confirming at BitGo' },
        { cause: 'gas_fees', amountMinor: causes.unbookedGasMinor, why: 'gas paid from the hot wallet, not yet booked (custody_in_flight gas_fee)' },
      ]
    : [
        { cause: 'pending_confirmations', amountMinor: causes.custodianUnconfirmedMinor > 0n ? causes.custodianUnconfirmedMinor : 0n, why: 'received by the wallets, still confirming at BitGo, not in custody_in_flight' },
        { cause: 'undistributed_rewards', amountMinor: causes.undistributedRewardsMinor, why: 'rewards received, not yet distributed in the ledger (custody_in_flight reward)' },
      ];
  const known = candidates.filter((c) => c.amountMinor > 0n);
  const single = known.find((c) => c.amountMinor >= excessMinor);
  const together = known.reduce((sum, c) => sum + c.amountMinor, 0n);
  const cause: BreakCause = single ? single.cause : known.length > 1 && together >= excessMinor ? 'several_known' : 'unexplained';
  const explained = single ? [single] : cause === 'several_known' ? known : [];
  const d = (v: bigint): string => minorToDecimal(v, moneyScale);
  const why = explained.length > 0
    ? `covered by ${explained.map((c) => `${d(c.amountMinor)} ${c.why}`).join(' and ')}`
    : known.length > 0
      ? `known causes (${known.map((c) => `${c.cause} ${d(c.amountMinor)}`).join(', ')}) do not cover it`
      : 'no known cause';
  const detail =
    `${cause}: custody is ${custodyShort ? 'short' : 'over'} by ${d(distance)} ${currency} (ledger ${d(ledgerMinor)}, custody ${d(custodyMinor)}), ` +
    `${d(excessMinor)} beyond the tolerance of ${d(toleranceMinor)} (absolute ${d(tolerance.absoluteMinor)} + float ${d(tolerance.floatMinor)} + in flight ${d(inFlight)}); ${why}`;
  return { ...base, verdict: { state: 'beyond', excessMinor, cause, detail } };
}

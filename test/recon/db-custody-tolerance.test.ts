import { describe, expect, it } from 'vitest';
import { judgeCurrency, type KnownCauses, type ToleranceParts } from '../../src/recon/db-custody/tolerance.js';

const unit = 10n ** 18n;
const milli = unit / 1_000n;
const tolerance = (over: Partial<ToleranceParts> = {}): ToleranceParts => ({ absoluteMinor: milli, floatMinor: 0n, inFlightDepositsMinor: 0n, inFlightWithdrawalsMinor: 0n, ...over });
const causes = (over: Partial<KnownCauses> = {}): KnownCauses => ({ unbookedGasMinor: 0n, undistributedRewardsMinor: 0n, custodianUnconfirmedMinor: 0n, ...over });

describe('judgeCurrency', () => {
  it('agrees within absolute + float, on either side, boundary included', () => {
    expect(judgeCurrency('BTC', unit, unit + milli, tolerance(), causes()).verdict).toEqual({ state: 'agree' });
    expect(judgeCurrency('BTC', unit + milli, unit, tolerance(), causes()).verdict).toEqual({ state: 'agree' });
    expect(judgeCurrency('BTC', unit, unit + 3n * milli, tolerance({ floatMinor: 2n * milli }), causes()).verdict).toEqual({ state: 'agree' });
    expect(judgeCurrency('BTC', unit, unit + milli + 1n, tolerance(), causes()).verdict.state).toBe('beyond');
  });

  it('is in flight when only the in-flight amounts cover the difference', () => {
    const j = judgeCurrency('BTC', unit, 2n * unit, tolerance({ inFlightDepositsMinor: unit }), causes());
    expect(j.verdict).toEqual({ state: 'in_flight' });
    expect(j.toleranceMinor).toBe(unit + milli);
    expect(judgeCurrency('BTC', 2n * unit, unit, tolerance({ inFlightWithdrawalsMinor: unit }), causes()).verdict).toEqual({ state: 'in_flight' });
  });

  it('reports delta = ledger − custody and the excess beyond the tolerance', () => {
    const j = judgeCurrency('ETH', 10n * unit, 9n * unit, tolerance(), causes());
    expect(j.deltaMinor).toBe(unit);
    expect(j.verdict).toMatchObject({ state: 'beyond', excessMinor: unit - milli, cause: 'unexplained' });
  });

  it('explains a shortfall by unbooked gas or unconfirmed spends, an excess by rewards or unconfirmed receipts', () => {
    const short = (c: Partial<KnownCauses>) => judgeCurrency('ETH', 10n * unit, 9n * unit, tolerance(), causes(c)).verdict;
    expect(short({ unbookedGasMinor: unit })).toMatchObject({ cause: 'gas_fees' });
    expect(short({ custodianUnconfirmedMinor: -unit })).toMatchObject({ cause: 'pending_confirmations' });
    expect(short({ undistributedRewardsMinor: 5n * unit, custodianUnconfirmedMinor: 5n * unit })).toMatchObject({ cause: 'unexplained' }); // wrong side
    expect(short({ unbookedGasMinor: unit / 2n, custodianUnconfirmedMinor: -unit / 2n })).toMatchObject({ cause: 'several_known' });
    expect(short({ unbookedGasMinor: unit / 4n })).toMatchObject({ cause: 'unexplained' });
    const over = (c: Partial<KnownCauses>) => judgeCurrency('ETH', 9n * unit, 10n * unit, tolerance(), causes(c)).verdict;
    expect(over({ undistributedRewardsMinor: unit })).toMatchObject({ cause: 'undistributed_rewards' });
    expect(over({ custodianUnconfirmedMinor: unit, undistributedRewardsMinor: unit })).toMatchObject({ cause: 'pending_confirmations' }); // first that covers
    expect(over({ unbookedGasMinor: 5n * unit })).toMatchObject({ cause: 'unexplained' });
  });
});

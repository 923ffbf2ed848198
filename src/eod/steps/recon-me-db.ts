import { createHash } from 'node:crypto';
import { minorToDecimal } from '../../config/decimal.js';
import { keyOf, moneyScale } from '../cut-balances.js';
import { cutSides, isHouseAccount } from './cut-sides.js';
import type { CutBreak, EodStep } from './step.js';

const whole = (m: bigint): string => minorToDecimal(m, moneyScale);
const breaksListedMax = 1_000;

/**
 * Step 6, the me_db seal at the cut: each (user, currency)'s engine balance as of the last
 * event before the cutover against Σ ledger amount of rows created before it; every journal
 * day's Σ per currency over all accounts must be 0. The same figures whenever it runs.
 */
export const reconMeDbStep: EodStep = {
  name: 'recon_me_db',
  skipReason: () => null,
  async run(context) {
    const { engine, ledger } = await cutSides(context);
    const keys = new Set<string>(engine.balances.keys());
    for (const [key, b] of ledger.balances) if (!isHouseAccount(b.account)) keys.add(key);
    const breaks: CutBreak[] = [];
    const digest = createHash('sha256');
    let equal = 0;
    for (const key of [...keys].sort()) {
      const e = engine.balances.get(key);
      const l = ledger.balances.get(key);
      const [userId, currency] = e ? [e.userId, e.currency] : [l!.account, l!.currency];
      const left = e?.totalMinor ?? 0n;
      const right = l?.totalMinor ?? 0n;
      digest.update(`${keyOf(userId, currency)}|${left}|${right}\n`);
      if (left === right) equal++;
      else breaks.push({ boundary: 'me_db', kind: 'balance', userId, currency, left: whole(left), right: whole(right), delta: whole(left - right) });
    }
    const currencySums = new Map<string, bigint>();
    for (const b of ledger.balances.values()) currencySums.set(b.currency, (currencySums.get(b.currency) ?? 0n) + b.totalMinor);
    for (const [currency, sum] of [...currencySums].sort(([a], [b]) => a.localeCompare(b))) {
      if (sum !== 0n) breaks.push({ boundary: 'me_db', kind: 'currency_nonzero', currency, left: whole(sum), right: '0', delta: whole(sum), detail: `Σ of all ledger accounts in ${currency} at the cut is ${whole(sum)}, not 0` });
    }
    return {
      figures: {
        engineSeq: engine.seq,
        ledgerLastId: ledger.lastId,
        ledgerRowsOfDay: ledger.dayRows,
        keysCompared: keys.size,
        keysEqual: equal,
        breaks: breaks.length,
        digest: digest.digest('hex'),
      },
      breaks: breaks.slice(0, breaksListedMax),
    };
  },
};

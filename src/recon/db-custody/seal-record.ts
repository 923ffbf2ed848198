import { minorToDecimal } from '../../config/decimal.js';
import { moneyScale, type LiveBreak } from '../breaks/break.js';
import { CutDigest } from '../cut-digest.js';
import type { LedgerHoldings } from './ledger-holdings.js';
import type { BreakCause, CurrencyJudgement } from './tolerance.js';
import type { WalletState } from './wallet-state.js';

export interface SealedWallet {
  currency: string;
  coin: string;
  walletId: string;
  /** Base units, as BitGo reported them. */
  balance: string;
  confirmedBalance: string;
  spendableBalance: string;
  /** The balance in whole units of the ledger currency. */
  balanceWhole: string;
  polledAt: string;
  /** False when the latest poll of this wallet failed: its last good reading is sealed. */
  fresh: boolean;
}

export interface SealedCurrency {
  currency: string;
  ledgerHeld: string;
  custody: string | null;
  delta: string | null;
  tolerance: string | null;
  state: CurrencyJudgement['verdict']['state'] | 'unknown';
  cause?: BreakCause;
}

export interface DbCustodySeal {
  boundary: string;
  businessDate: string;
  cut: {
    /** The oldest reading in the cut (every wallet's own time is in `wallets`). */
    custodyPolledAt: string | null;
    /** The follower's watermark, and the snapshot whose visible rows the amounts are Σ of. */
    ledger: { txId: string; id: string; snapshot: string | null };
    wallets: SealedWallet[];
    currencies: SealedCurrency[];
  };
  digest: string;
  openBreaks: LiveBreak[];
  sealedAt: string;
}

/** What the seal is cut from: the reconciler's latest readings and judgements. */
export interface CustodyCutState {
  wallets: readonly WalletState[];
  currencies: readonly string[];
  holdings: LedgerHoldings;
  lastLedgerHeld: ReadonlyMap<string, bigint>;
  lastJudgements: ReadonlyMap<string, CurrencyJudgement | null>;
  lastLedgerSnapshot: string | null;
}

/** The cut the seal records (every wallet's reading, every currency's judgement, the ledger watermark) and its digest. */
export function custodyCut(state: CustodyCutState): { cut: DbCustodySeal['cut']; digest: string } {
  const digest = new CutDigest();
  const wallets: SealedWallet[] = [];
  for (const w of state.wallets) {
    if (!w.last) continue;
    const r = w.last;
    wallets.push({
      currency: w.ref.currency, coin: r.coin, walletId: r.walletId,
      balance: r.balanceBase.toString(), confirmedBalance: r.confirmedBase.toString(), spendableBalance: r.spendableBase.toString(),
      balanceWhole: minorToDecimal(r.balanceMinor, moneyScale), polledAt: new Date(r.polledAtMs).toISOString(), fresh: w.fresh,
    });
    digest.replace(`wallet/${w.key}`, null, `${r.balanceBase}|${r.confirmedBase}|${r.spendableBase}|${r.polledAtMs}`);
  }
  const d = (v: bigint): string => minorToDecimal(v, moneyScale);
  const currencies: SealedCurrency[] = state.currencies.map((currency) => {
    const ledgerHeld = state.lastLedgerHeld.get(currency) ?? state.holdings.heldMinor.get(currency) ?? 0n;
    const j = state.lastJudgements.get(currency) ?? null;
    digest.replace(`currency/${currency}`, null, `${ledgerHeld}|${j ? j.custodyMinor : 'unknown'}`);
    if (!j) return { currency, ledgerHeld: d(ledgerHeld), custody: null, delta: null, tolerance: null, state: 'unknown' };
    return {
      currency, ledgerHeld: d(j.ledgerMinor), custody: d(j.custodyMinor), delta: d(j.deltaMinor), tolerance: d(j.toleranceMinor),
      state: j.verdict.state, ...(j.verdict.state === 'beyond' ? { cause: j.verdict.cause } : {}),
    };
  });
  const ledger = { txId: state.holdings.watermark.txId.toString(), id: state.holdings.watermark.id.toString(), snapshot: state.lastLedgerSnapshot };
  digest.replace('ledger', null, `${ledger.txId}|${ledger.id}|${ledger.snapshot ?? ''}`);
  const times = wallets.map((w) => Date.parse(w.polledAt));
  const custodyPolledAt = times.length === 0 ? null : new Date(Math.min(...times)).toISOString();
  return { cut: { custodyPolledAt, ledger, wallets, currencies }, digest: digest.hex() };
}

import { ledgerScale } from '../ledger/ledger-follower.js';

/**
 * Decimal places of each BitGo coin's base unit (satoshi, wei, drops, …): BitGo reports
 * balances as integer strings in these units. The one place that knows them; a test
 * checks every entry against @bitgo/statics. Coins with more than 18 decimals (near: 24)
 * are left out: the ledger's numeric(38,18) cannot hold their smallest unit.
 */
export const coinDecimals: Readonly<Record<string, number>> = {
  btc: 8, tbtc: 8, bch: 8, tbch: 8, bsv: 8, tbsv: 8, ltc: 8, tltc: 8,
  doge: 8, tdoge: 8, dash: 8, tdash: 8, zec: 8, tzec: 8, hbar: 8, thbar: 8,
  eth: 18, teth: 18, hteth: 18, avaxc: 18, tavaxc: 18, polygon: 18, tpolygon: 18,
  xrp: 6, txrp: 6, trx: 6, ttrx: 6, algo: 6, talgo: 6, ada: 6, tada: 6, atom: 6, tatom: 6,
  xlm: 7, txlm: 7,
  sol: 9, tsol: 9,
  dot: 10, tdot: 12,
};

export function decimalsOfCoin(coin: string): number | undefined {
  return Object.hasOwn(coinDecimals, coin) ? coinDecimals[coin] : undefined;
}

/** Base units of `coin` (an integer) → the ledger's minor units (18 decimals). Exact: never rounds. */
export function baseUnitsToLedgerMinor(baseUnits: bigint, coin: string): bigint {
  const decimals = decimalsOfCoin(coin);
  if (decimals === undefined) throw new Error(`unknown BitGo coin "${coin}": add it to coinDecimals`);
  if (decimals > ledgerScale) throw new Error(`coin "${coin}" has ${decimals} decimals, more than the ledger's ${ledgerScale}`);
  return baseUnits * 10n ** BigInt(ledgerScale - decimals);
}

import { decimalsOfCoin } from '../../adapters/bitgo/coin-decimals.js';
import type { BoundaryDefinition, ConfigProblem } from '../boundary-definition.js';
import { dbCustodyBoundary } from './ledger-holdings.js';
import { dbCustodyDisabledReason } from './limits.js';
import { startDbCustodyReconciler } from './reconciler.js';
import { reconLimits } from '../limits.js';

/** Ledger ↔ BitGo custody (docs/bitgo-custody.md). */
export const dbCustodyDefinition: BoundaryDefinition = {
  name: dbCustodyBoundary,
  disabledReason: dbCustodyDisabledReason,
  async validate(settings) {
    const problems: ConfigProblem[] = [];
    const given = { BITGO_ROOT_URI: !!settings.BITGO_ROOT_URI, BITGO_ACCESS_TOKEN: !!settings.BITGO_ACCESS_TOKEN, BITGO_WALLETS: settings.BITGO_WALLETS.length > 0 };
    const missing = Object.entries(given).filter(([, set]) => !set).map(([name]) => name);
    if (missing.length > 0 && missing.length < 3) {
      problems.push({ setting: missing[0]!, message: `db_custody is half configured: set ${missing.join(' and ')} too (or none of BITGO_ROOT_URI, BITGO_ACCESS_TOKEN, BITGO_WALLETS)` });
    }
    if (settings.BITGO_WALLETS.length > reconLimits.dbCustodyWalletsMax) {
      problems.push({ setting: 'BITGO_WALLETS', message: `lists ${settings.BITGO_WALLETS.length} wallets, more than ${reconLimits.dbCustodyWalletsMax} (limit dbCustodyWalletsMax, src/recon/limits.ts)` });
    }
    const seen = new Set<string>();
    for (const w of settings.BITGO_WALLETS) {
      const ref = `${w.coin}:${w.walletId}`;
      if (seen.has(ref)) problems.push({ setting: 'BITGO_WALLETS', message: `lists ${ref} twice: it would be counted twice` });
      seen.add(ref);
      if (decimalsOfCoin(w.coin) === undefined) problems.push({ setting: 'BITGO_WALLETS', message: `unknown coin "${w.coin}" (wallet ${w.walletId}, currency ${w.currency}); known coins are in src/adapters/bitgo/coin-decimals.ts` });
    }
    if (settings.BITGO_WALLETS.length > 0) {
      const currencies = new Set(settings.BITGO_WALLETS.map((w) => w.currency));
      for (const currency of Object.keys(settings.CUSTODY_TOLERANCES)) {
        if (!currencies.has(currency)) problems.push({ setting: 'CUSTODY_TOLERANCES', message: `${currency} has no wallet in BITGO_WALLETS` });
      }
    }
    return problems;
  },
  start: (deps) => startDbCustodyReconciler(deps),
};

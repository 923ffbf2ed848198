import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { dbCustodyDefinition } from '../../src/recon/db-custody/boundary.js';
import { reconLimits } from '../../src/recon/limits.js';
import { silentLogger } from '../support/log.js';

/** db_custody holds a few entries per wallet: the wallets it is given are bounded (src/recon/limits.ts). */
describe('db_custody wallets bound', () => {
  const wallets = (n: number): string => Array.from({ length: n }, (_, i) => `BTC=tbtc:w${i}`).join(',');
  const configured = (n: number) => loadSettings({ BITGO_ROOT_URI: 'http://127.0.0.1:1', BITGO_ACCESS_TOKEN: 't', BITGO_WALLETS: wallets(n) });

  it('accepts dbCustodyWalletsMax wallets and refuses one more, naming the limit', async () => {
    expect(await dbCustodyDefinition.validate(configured(reconLimits.dbCustodyWalletsMax), silentLogger())).toEqual([]);
    const problems = await dbCustodyDefinition.validate(configured(reconLimits.dbCustodyWalletsMax + 1), silentLogger());
    expect(problems).toEqual([expect.objectContaining({ setting: 'BITGO_WALLETS', message: expect.stringContaining('dbCustodyWalletsMax') })]);
  });
});

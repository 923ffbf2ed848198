import type { BitgoSimulator } from '../adapters/bitgo/simulator/index.js';
import { decimalsOfCoin } from '../adapters/bitgo/coin-decimals.js';
import type { BitgoWalletRef } from '../config/settings.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../observability/logger.js';

export interface CustodyDemoDeps {
  bitgo: BitgoSimulator;
  /** The first wallet is the hot wallet the demo moves funds into. */
  hotWallet: BitgoWalletRef;
  pool: Pool;
  log: Logger;
}

const transferEveryMs = 3_000;
const driftEveryMs = 60_000;
const firstDriftMs = 20_000;
const healAfterMs = 25_000;

/**
 * The custodian, simulated for the demo: the exchange moves its own funds into the hot
 * wallet (a journal house:treasury → house:custody, and the wallet credited at once), and
 * once a minute the wallet drifts one coin short of the books, then heals — db_custody
 * raises the alert, pauses withdrawals of that asset, and resolves.
 */
export function startCustodyDemo(deps: CustodyDemoDeps): { stop(): Promise<void> } {
  const { hotWallet: wallet, bitgo, log } = deps;
  const decimals = decimalsOfCoin(wallet.coin);
  if (decimals === undefined) throw new Error(`demo custody: unknown coin ${wallet.coin}`);
  const coinBase = 10n ** BigInt(decimals);
  let transfers = 0;
  let running: Promise<void> = Promise.resolve();
  const timers: NodeJS.Timeout[] = [];

  const transfer = async (): Promise<void> => {
    transfers++;
    const coins = BigInt(1 + (transfers % 5));
    const id = `demo-treasury-${Date.now()}-${transfers}`;
    await deps.pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
       VALUES ($1, 'house:treasury', $2, $3, 'treasury_transfer', $1), ($1, 'house:custody', $2, -$3::numeric, 'treasury_transfer', $1)`,
      [id, wallet.currency, coins.toString()],
    );
    bitgo.drift(wallet.walletId, coins * coinBase);
  };
  const drift = (): void => {
    bitgo.drift(wallet.walletId, -coinBase);
    log.warn({ event: 'demo.custody_drift', walletId: wallet.walletId, currency: wallet.currency }, `demo: custody wallet ${wallet.walletId} is one ${wallet.currency} short of the books`);
    timers.push(setTimeout(() => {
      bitgo.drift(wallet.walletId, coinBase);
      log.info({ event: 'demo.custody_healed', walletId: wallet.walletId }, `demo: custody wallet ${wallet.walletId} back in line`);
    }, healAfterMs));
  };
  timers.push(setInterval(() => {
    running = running.then(transfer).catch((error: unknown) => log.warn({ event: 'demo.custody_transfer_failed', err: (error as Error).message }, 'demo custody transfer failed'));
  }, transferEveryMs));
  timers.push(setInterval(drift, driftEveryMs), setTimeout(drift, firstDriftMs));
  return {
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      await running;
    },
  };
}

import type { BitgoWalletRef } from '../../../config/settings.js';
import { BitgoSimulator } from './bitgo-simulator.js';

export { BitgoSimulator, randomV2AccessToken, type BitgoSimulatorOptions, type SimulatedWallet, type SimulatedWalletInit, type SimulatorRequest } from './bitgo-simulator.js';

/** A simulator holding every wallet of BITGO_WALLETS, empty, for the demo (`--simulate`). */
export function startBitgoSimulatorFor(wallets: readonly BitgoWalletRef[], accessToken: string, port = 0): Promise<BitgoSimulator> {
  return BitgoSimulator.start({
    accessToken,
    port,
    wallets: wallets.map((w) => ({ coin: w.coin, id: w.walletId, label: `${w.currency} ${w.coin} ${w.walletId}`, balance: 0n })),
  });
}

import type { WalletReadError } from '../../adapters/bitgo/client.js';
import type { WalletReading } from '../../adapters/bitgo/wallet-response.js';
import type { BitgoWalletRef } from '../../config/settings.js';

/** One configured BitGo wallet as the reconciler last saw it. */
export interface WalletState {
  ref: BitgoWalletRef;
  key: string;
  last: WalletReading | null;
  /** Whether the latest poll of this wallet succeeded. */
  fresh: boolean;
  failingSinceMs: number | null;
  lastError: WalletReadError | null;
}

/** The key of an `unreachable` break when every wallet fails: the custodian itself. */
export const custodianKey = 'bitgo';

export interface Outage {
  sinceMs: number;
  detail: string;
}

/**
 * The outages to page, by `unreachable` break key: 'bitgo' when no wallet could be read,
 * else one per failing wallet (`<coin>:<walletId>`), each since its first failure.
 */
export function outagesOf(wallets: readonly WalletState[], nowMs: number): Map<string, Outage> {
  const failing = wallets.filter((w) => w.failingSinceMs !== null);
  const outages = new Map<string, Outage>();
  const describe = (w: WalletState): string => `${w.key}: ${w.lastError?.code ?? 'error'}${w.lastError?.status ? ` (${w.lastError.status})` : ''}: ${w.lastError?.message ?? ''}`;
  if (failing.length > 0 && failing.length === wallets.length) {
    const sinceMs = Math.min(...failing.map((w) => w.failingSinceMs ?? nowMs));
    outages.set(custodianKey, { sinceMs, detail: `BitGo unreachable: no wallet could be read; ${failing.map(describe).join('; ')}`.slice(0, 2_000) });
  } else {
    for (const w of failing) outages.set(w.key, { sinceMs: w.failingSinceMs ?? nowMs, detail: `wallet unreadable: ${describe(w)}`.slice(0, 2_000) });
  }
  return outages;
}

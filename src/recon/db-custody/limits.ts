import { defaultBitgoClientLimits } from '../../adapters/bitgo/client.js';
import type { Settings } from '../../config/settings.js';

export interface DbCustodyLimits {
  /** BITGO_POLL_MS: between two successful polls. */
  pollMs: number;
  /** RECON_GRACE_MS: how long a difference (or an outage) may last before it is a break. */
  graceMs: number;
  /** After a failed poll the next waits pollMs·2^failures, at most this. */
  backoffMaxMs: number;
  /** One BitGo request; the SDK's own limit is 305 s. */
  requestTimeoutMs: number;
  /** Attempts per wallet read for 429 / 5xx / network errors, and the delays between them. */
  retryAttemptsMax: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  walletsInParallelMax: number;
  ledgerBatchRowsMax: number;
  /** Ledger batches the follower reads per round at most (the rest is counted from the tail). */
  ledgerBatchesPerRoundMax: number;
  /** Pending custody_in_flight rows older than this stop widening the tolerance. */
  inFlightMaxAgeMs: number;
}

export function dbCustodyLimitsFrom(settings: Settings): DbCustodyLimits {
  const pollMs = settings.BITGO_POLL_MS;
  return {
    pollMs,
    graceMs: settings.RECON_GRACE_MS,
    backoffMaxMs: Math.max(pollMs, Math.min(pollMs * 16, 10 * 60_000)),
    requestTimeoutMs: defaultBitgoClientLimits.requestTimeoutMs,
    retryAttemptsMax: defaultBitgoClientLimits.retry.attemptsMax,
    retryBaseDelayMs: defaultBitgoClientLimits.retry.baseDelayMs,
    retryMaxDelayMs: defaultBitgoClientLimits.retry.maxDelayMs,
    walletsInParallelMax: 4,
    ledgerBatchRowsMax: 5_000,
    ledgerBatchesPerRoundMax: 20,
    inFlightMaxAgeMs: 24 * 60 * 60_000,
  };
}

/** A reason the boundary cannot run, or null when BitGo is configured (for `admin.recon.status`). */
export function dbCustodyDisabledReason(settings: Settings): string | null {
  if (!settings.BITGO_ROOT_URI || !settings.BITGO_ACCESS_TOKEN || settings.BITGO_WALLETS.length === 0) {
    return 'not configured: set BITGO_ROOT_URI, BITGO_ACCESS_TOKEN and BITGO_WALLETS';
  }
  return null;
}

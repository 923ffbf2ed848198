import type { BitGoAPI } from '@bitgo/sdk-api';
import { isV2AccessToken } from './hmac.js';
import { parseWalletResponse, type WalletReading } from './wallet-response.js';

export interface BitgoClientOptions {
  /** BITGO_ROOT_URI, e.g. https://app.bitgo.com or the simulator's http://127.0.0.1:<port>. */
  rootUri: string;
  /** A v2 access token (`v2x…`): only those make the SDK sign requests and verify response HMACs. */
  accessToken: string;
  /** Per request, enforced by aborting it: the SDK's own timeout is 305 s (or BITGO_TIMEOUT, process-wide). */
  requestTimeoutMs: number;
  /** Retries inside one read, for 429, 5xx and network errors only. */
  retry: { attemptsMax: number; baseDelayMs: number; maxDelayMs: number };
  /**
   * A signed response whose `timestamp` is further than this from our clock is refused: v2
   * signatures do not cover freshness (the SDK checks a window only for v3), so without it a
   * recorded response for the same path could be replayed.
   */
  responseMaxSkewMs: number;
  userAgent?: string;
}

export const defaultBitgoClientLimits = {
  requestTimeoutMs: 10_000,
  retry: { attemptsMax: 3, baseDelayMs: 250, maxDelayMs: 2_000 },
  responseMaxSkewMs: 5 * 60_000,
} as const;

/**
 * Why a wallet could not be read. None of these is a balance: the reconciler turns them into
 * an `unreachable` alert, never a balance break.
 */
export type WalletReadErrorCode =
  | 'timeout' // no answer within requestTimeoutMs
  | 'rate_limited' // 429, still after the retries
  | 'server_error' // 5xx, still after the retries
  | 'network' // connection refused / reset, DNS
  | 'invalid_hmac' // the SDK rejected the response signature (status 511 from the SDK, not the server)
  | 'unauthorized' // 401 / 403: the token is wrong, expired or lacks the scope
  | 'not_found' // 404: no such wallet for this coin
  | 'invalid_response' // 2xx whose body is not a wallet we can trust
  | 'stale_response' // correctly signed, but its timestamp is too far from our clock (a replay?)
  | 'http_error'; // any other status

export interface WalletReadError {
  code: WalletReadErrorCode;
  status: number | null;
  message: string;
}

export type WalletReadResult =
  | { ok: true; reading: WalletReading; attempts: number }
  | { ok: false; error: WalletReadError; attempts: number };

export interface WalletAddress {
  coin: string;
  walletId: string;
}

export interface BitgoCustodyClient {
  /** `GET /api/v2/{coin}/wallet/{id}` through the SDK's signed request path, retried and timed out. */
  readWallet(wallet: WalletAddress, signal?: AbortSignal): Promise<WalletReadResult>;
  readonly stats: { requests: number; failures: number };
}

const retryableCodes: ReadonlySet<WalletReadErrorCode> = new Set(['rate_limited', 'server_error', 'network']);

/**
 * The BitGo adapter: `@bitgo/sdk-api`'s BitGoAPI pointed at `rootUri` (env 'custom'). The SDK is
 * imported on first use: it takes seconds to load (docs/bitgo-custody.md), which an engine
 * without custody configured should not pay.
 */
export async function createBitgoCustodyClient(options: BitgoClientOptions): Promise<BitgoCustodyClient> {
  if (!isV2AccessToken(options.accessToken)) {
    throw new Error('BITGO_ACCESS_TOKEN is not a v2 token (v2x…, 67 characters): the SDK would send it in clear and verify no response HMAC');
  }
  const rootUri = options.rootUri.replace(/\/+$/, '');
  const { BitGoAPI: BitGoApi } = await import('@bitgo/sdk-api');
  const bitgo: BitGoAPI = new BitGoApi({
    env: 'custom',
    customRootURI: rootUri,
    accessToken: options.accessToken,
    // Without constants the constructor fetches /api/v1/client/constants in the background
    // and prints to stderr when it fails; balance reads do not need them.
    clientConstants: {},
    ...(options.userAgent ? { userAgent: options.userAgent } : {}),
  });
  const stats = { requests: 0, failures: 0 };

  const readOnce = async (wallet: WalletAddress, signal?: AbortSignal): Promise<WalletReadResult> => {
    stats.requests++;
    const url = bitgo.url(`/${encodeURIComponent(wallet.coin)}/wallet/${encodeURIComponent(wallet.walletId)}`, 2);
    const request = bitgo.get(url);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    // Awaiting the request itself (not .result()) keeps the response headers: the signed timestamp.
    const result = Promise.resolve(request).then((response) => response);
    result.catch(() => undefined); // it may settle after the race is lost (aborted)
    const cutOff = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ReadTimeout(options.requestTimeoutMs)), options.requestTimeoutMs);
      onAbort = () => reject(new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const response = await Promise.race([result, cutOff]);
      const nowMs = Date.now();
      const signedAtMs = Number(response.header?.['timestamp']);
      if (!Number.isFinite(signedAtMs) || Math.abs(nowMs - signedAtMs) > options.responseMaxSkewMs) {
        return { ok: false, error: { code: 'stale_response', status: response.status, message: `response signed at ${response.header?.['timestamp'] ?? '(none)'}, ${Number.isFinite(signedAtMs) ? nowMs - signedAtMs : '?'} ms from our clock` }, attempts: 1 };
      }
      const parsed = parseWalletResponse(response.body, wallet, nowMs);
      if (!parsed.ok) return { ok: false, error: { code: 'invalid_response', status: 200, message: parsed.reason }, attempts: 1 };
      return { ok: true, reading: parsed.reading, attempts: 1 };
    } catch (error) {
      request.abort();
      return { ok: false, error: classify(error), attempts: 1 };
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  };

  return {
    stats,
    async readWallet(wallet, signal) {
      const { attemptsMax, baseDelayMs, maxDelayMs } = options.retry;
      for (let attempt = 1; ; attempt++) {
        const outcome = await readOnce(wallet, signal);
        if (outcome.ok) return { ...outcome, attempts: attempt };
        if (!retryableCodes.has(outcome.error.code) || attempt >= attemptsMax || signal?.aborted) {
          stats.failures++;
          return { ...outcome, attempts: attempt };
        }
        await sleep(Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)), signal);
      }
    },
  };
}

class ReadTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
  }
}

/** The SDK throws ApiResponseError (with `status`) for HTTP errors and a bad HMAC; superagent errors otherwise. */
function classify(error: unknown): WalletReadError {
  if (error instanceof ReadTimeout) return { code: 'timeout', status: null, message: error.message };
  const e = error as { status?: unknown; message?: unknown; code?: unknown };
  const message = typeof e.message === 'string' ? e.message.slice(0, 300) : String(error);
  const status = typeof e.status === 'number' ? e.status : null;
  if (status === 511 && /invalid response HMAC/i.test(message)) return { code: 'invalid_hmac', status, message };
  if (status === 429) return { code: 'rate_limited', status, message };
  if (status === 401 || status === 403) return { code: 'unauthorized', status, message };
  if (status === 404) return { code: 'not_found', status, message };
  if (status !== null && status >= 500) return { code: 'server_error', status, message };
  if (status !== null) return { code: 'http_error', status, message };
  if (typeof e.code === 'string' && /^(ECONN|ENOTFOUND|EAI_|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|UND_ERR)/.test(e.code)) {
    return { code: 'network', status: null, message: `${e.code}: ${message}` };
  }
  return { code: 'network', status: null, message };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

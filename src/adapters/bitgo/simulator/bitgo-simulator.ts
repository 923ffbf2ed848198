import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { hmacSha256Hex, pathWithQueryOf, requestHmacSubject, responseHmacSubject, sameHex, tokenHashHex } from '../hmac.js';

/** A wallet as the simulator holds it: amounts in the coin's base units. */
export interface SimulatedWallet {
  coin: string;
  id: string;
  label: string;
  balance: bigint;
  confirmed: bigint;
  spendable: bigint;
}

export interface SimulatedWalletInit {
  coin: string;
  id: string;
  label?: string;
  /** Base units; confirmed and spendable default to the balance. */
  balance: bigint | string;
  confirmed?: bigint | string;
  spendable?: bigint | string;
}

export interface BitgoSimulatorOptions {
  /** The token clients must present (v2: as its SHA-256 plus a request HMAC; v1: in clear). */
  accessToken: string;
  host?: string;
  /** 0 (default): a free port. */
  port?: number;
  wallets?: SimulatedWalletInit[];
}

export interface SimulatorRequest {
  method: string;
  path: string;
  status: number;
  atMs: number;
}

const requestLogMax = 1_000;
const requestBodyBytesMax = 64 * 1024;

/**
 * A local HTTP server speaking the part of BitGo's REST API the adapter uses
 * (`GET /api/v2/{coin}/wallet/{id}`, plus `/api/v1/client/constants`), authenticating and
 * signing exactly as BitGo's v2 scheme does, with knobs for the faults the reconciler must
 * survive: drift, latency, 429 / 5xx for the next N requests, hanging requests, bad HMACs.
 */
export class BitgoSimulator {
  private readonly wallets = new Map<string, SimulatedWallet>();
  private readonly sockets = new Set<Socket>();
  private readonly hung = new Set<ServerResponse>();
  private readonly log: SimulatorRequest[] = [];
  private latencyMs = 0;
  private failures: { remaining: number; status: number } = { remaining: 0, status: 503 };
  private hangsRemaining = 0;
  private badHmacsRemaining = 0;
  private stale: { remaining: number; ageMs: number } = { remaining: 0, ageMs: 0 };
  private requestCount = 0;

  private constructor(
    private readonly server: Server,
    private readonly accessToken: string,
  ) {}

  static async start(options: BitgoSimulatorOptions): Promise<BitgoSimulator> {
    const server = createServer();
    const simulator = new BitgoSimulator(server, options.accessToken);
    for (const w of options.wallets ?? []) simulator.setWallet(w);
    server.on('request', (req, res) => void simulator.handle(req, res));
    server.on('connection', (socket) => {
      simulator.sockets.add(socket);
      socket.on('close', () => simulator.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    return simulator;
  }

  /** The root URI to give the SDK (BITGO_ROOT_URI). */
  get url(): string {
    const address = this.server.address() as AddressInfo;
    return `http://${address.address}:${address.port}`;
  }

  get requests(): { total: number; recent: readonly SimulatorRequest[] } {
    return { total: this.requestCount, recent: this.log };
  }

  // ─── knobs ───────────────────────────────────────────────────────────────

  setWallet(init: SimulatedWalletInit): SimulatedWallet {
    const balance = BigInt(init.balance);
    const wallet: SimulatedWallet = {
      coin: init.coin,
      id: init.id,
      label: init.label ?? `${init.coin} wallet ${init.id}`,
      balance,
      confirmed: init.confirmed === undefined ? balance : BigInt(init.confirmed),
      spendable: init.spendable === undefined ? balance : BigInt(init.spendable),
    };
    this.wallets.set(init.id, wallet);
    return wallet;
  }

  wallet(id: string): SimulatedWallet {
    const wallet = this.wallets.get(id);
    if (!wallet) throw new Error(`simulator: no wallet ${id}`);
    return wallet;
  }

  /** Forgets a wallet: its reads answer 404 until setWallet() brings it back. */
  removeWallet(id: string): SimulatedWallet {
    const wallet = this.wallet(id);
    this.wallets.delete(id);
    return wallet;
  }

  /** Sets a wallet's balances (base units); confirmed and spendable default to the balance. */
  setBalance(id: string, amounts: { balance: bigint | string; confirmed?: bigint | string; spendable?: bigint | string }): void {
    const w = this.wallet(id);
    this.setWallet({ coin: w.coin, id, label: w.label, ...amounts });
  }

  /** Adds `deltaBase` (may be negative) to all three balances of a wallet: money appearing or vanishing. */
  drift(id: string, deltaBase: bigint): void {
    const w = this.wallet(id);
    w.balance += deltaBase;
    w.confirmed += deltaBase;
    w.spendable += deltaBase;
  }

  /** Adds unconfirmed funds: the balance grows, confirmed and spendable do not (a deposit confirming). */
  receiveUnconfirmed(id: string, amountBase: bigint): void {
    this.wallet(id).balance += amountBase;
  }

  setLatencyMs(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /** The next `count` API requests answer `status` (429, 500, 502, 503, …). */
  failNext(count: number, status = 503): void {
    this.failures = { remaining: count, status };
  }

  /** The next `count` API requests get no answer until releaseHung() or stop(); Infinity: all of them. */
  hangNext(count: number): void {
    this.hangsRemaining = count;
  }

  /** The next `count` responses carry an HMAC that does not match their body. */
  corruptHmacNext(count: number): void {
    this.badHmacsRemaining = count;
  }

  /** The next `count` responses are correctly signed but dated `ageMs` ago: a replayed recording. */
  replayStaleNext(count: number, ageMs: number): void {
    this.stale = { remaining: count, ageMs };
  }

  /** Clears every fault knob and drops the connections of hanging requests. */
  heal(): void {
    this.failures = { remaining: 0, status: 503 };
    this.hangsRemaining = 0;
    this.badHmacsRemaining = 0;
    this.stale = { remaining: 0, ageMs: 0 };
    this.latencyMs = 0;
    this.releaseHung();
  }

  releaseHung(): void {
    for (const res of this.hung) res.socket?.destroy();
    this.hung.clear();
  }

  async stop(): Promise<void> {
    this.releaseHung();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  // ─── the API ─────────────────────────────────────────────────────────────

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requestCount++;
    const target = req.url ?? '/';
    const body = await readBody(req).catch(() => null);
    if (body === null) return this.reply(req, res, 413, { error: 'request body too large', name: 'PayloadTooLarge' });
    const path = target.split('?')[0] ?? '/';

    // Needs no authentication in BitGo either: answered before the knobs.
    if (req.method === 'GET' && path === '/api/v1/client/constants') return this.reply(req, res, 200, { constants: {}, ttl: 3600 });

    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    if (this.hangsRemaining > 0) {
      this.hangsRemaining--;
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      return;
    }
    if (this.failures.remaining > 0) {
      this.failures.remaining--;
      const status = this.failures.status;
      const headers = status === 429 ? { 'Retry-After': '1' } : undefined;
      return this.reply(req, res, status, { error: status === 429 ? 'Too many requests' : 'service unavailable', name: status === 429 ? 'RateLimitExceeded' : 'ServiceUnavailable' }, headers);
    }
    if (!this.authenticated(req, target, body)) {
      return this.reply(req, res, 401, { error: 'unauthorized', name: 'Unauthorized' }, { 'x-auth-required': 'true' });
    }
    const route = /^\/api\/v2\/([a-z0-9]+)\/wallet\/([A-Za-z0-9_-]+)$/.exec(path);
    if (req.method === 'GET' && route) {
      const wallet = this.wallets.get(route[2]!);
      if (!wallet || wallet.coin !== route[1]) return this.reply(req, res, 404, { error: 'wallet not found', name: 'WalletNotFound' });
      return this.reply(req, res, 200, walletJson(wallet));
    }
    return this.reply(req, res, 404, { error: `no route ${req.method} ${path}`, name: 'NotFound' });
  }

  /** v2: Bearer sha256(token) and an HMAC over timestamp|path|body; v1: Bearer token in clear. */
  private authenticated(req: IncomingMessage, target: string, body: string): boolean {
    const authorization = req.headers.authorization ?? '';
    const bearer = /^Bearer (\S+)$/.exec(authorization)?.[1];
    if (!bearer) return false;
    if (sameHex(bearer, this.accessToken)) return true;
    if (!sameHex(bearer, tokenHashHex(this.accessToken))) return false;
    const timestamp = header(req, 'auth-timestamp');
    const hmac = header(req, 'hmac');
    if (!timestamp || !hmac) return false;
    const expected = hmacSha256Hex(this.accessToken, requestHmacSubject({ timestamp, pathWithQuery: pathWithQueryOf(target), body }));
    return sameHex(hmac, expected);
  }

  private reply(req: IncomingMessage, res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
    const body = JSON.stringify(payload);
    let signedAtMs = Date.now();
    if (this.stale.remaining > 0) {
      this.stale.remaining--;
      signedAtMs -= this.stale.ageMs;
    }
    const timestamp = String(signedAtMs);
    const pathWithQuery = pathWithQueryOf(req.url ?? '/');
    let hmac = hmacSha256Hex(this.accessToken, responseHmacSubject({ timestamp, pathWithQuery, status, body }));
    if (this.badHmacsRemaining > 0) {
      this.badHmacsRemaining--;
      hmac = hmacSha256Hex(this.accessToken, responseHmacSubject({ timestamp, pathWithQuery, status, body: `${body} ` }));
    }
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), timestamp, hmac, ...headers });
    res.end(body);
    this.log.push({ method: req.method ?? '?', path: pathWithQuery, status, atMs: Date.now() });
    if (this.log.length > requestLogMax) this.log.splice(0, this.log.length - requestLogMax);
  }
}

/** The wallet object BitGo returns (the fields a reader may look at; numbers imprecise as BitGo's are). */
function walletJson(w: SimulatedWallet): Record<string, unknown> {
  return {
    id: w.id,
    coin: w.coin,
    label: w.label,
    m: 2,
    n: 3,
    keys: [`${w.id}-user`, `${w.id}-backup`, `${w.id}-bitgo`],
    enterprise: 'simulated-enterprise',
    type: 'hot',
    multisigType: 'onchain',
    approvalsRequired: 1,
    isCold: false,
    deleted: false,
    freeze: {},
    coinSpecific: {},
    pendingApprovals: [],
    balance: Number(w.balance),
    confirmedBalance: Number(w.confirmed),
    spendableBalance: Number(w.spendable),
    balanceString: w.balance.toString(),
    confirmedBalanceString: w.confirmed.toString(),
    spendableBalanceString: w.spendable.toString(),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    let size = 0;
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      size += Buffer.byteLength(chunk);
      if (size > requestBodyBytesMax) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      text += chunk;
    });
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

/** A v2-format access token (`v2x` + 64 hex digits), for tests and the demo. */
export function randomV2AccessToken(): string {
  return `v2x${randomBytes(32).toString('hex')}`;
}

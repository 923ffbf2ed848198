import { readFileSync } from 'node:fs';
import { closest, distance } from 'fastest-levenshtein';
import { z } from 'zod';
import { defaultFeeTiers, parseFeeTiers } from '../eod/money/volume-tiers.js';
import { reconLimits } from '../recon/limits.js';

/**
 * Every setting of the engine, one zod schema. The same name is an env var and
 * a key of the optional JSON config file (CONFIG_FILE); env wins over the file.
 */

const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();

const ianaZone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'not an IANA time zone (e.g. UTC, America/New_York)');

const decimalString = /^\d+(\.\d+)?$/;
const currencyCode = /^[A-Z0-9]{2,16}$/;

/** `BTC=0.001,ETH=0.01` → { BTC: '0.001', ETH: '0.01' } (whole units, decimal strings). */
const custodyTolerances = z.string().transform((text, ctx) => {
  const tolerances: Record<string, string> = {};
  for (const pair of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [currency, amount, ...rest] = pair.split('=');
    if (!currency || !amount || rest.length > 0 || !currencyCode.test(currency) || !decimalString.test(amount)) {
      ctx.addIssue({ code: 'custom', message: `expected CURRENCY=amount pairs like BTC=0.001, got "${pair}"` });
      return z.NEVER;
    }
    tolerances[currency] = amount;
  }
  return tolerances;
});

export interface BitgoWalletRef { currency: string; coin: string; walletId: string }

/** `BTC=tbtc:w1,BTC=tbtc:w2,ETH=hteth:w3` → one entry per wallet; a currency may have several. */
const bitgoWallets = z.string().transform((text, ctx) => {
  const wallets: BitgoWalletRef[] = [];
  for (const pair of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^([A-Z0-9]{2,16})=([a-z0-9]+):([A-Za-z0-9_-]+)$/.exec(pair);
    if (!match) {
      ctx.addIssue({ code: 'custom', message: `expected CURRENCY=coin:walletId entries, got "${pair}"` });
      return z.NEVER;
    }
    wallets.push({ currency: match[1]!, coin: match[2]!, walletId: match[3]! });
  }
  return wallets;
});

const optionalUrl = z.string().url().optional();

export const settingsSchema = z.object({
  NATS_URL: z.string().min(1).optional(),
  /** NATS user and password (deploy/nats-server.conf), or a creds file (NATS_CREDS_FILE) instead. */
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  NATS_CREDS_FILE: z.string().min(1).optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL').optional(),
  /** Prefix for every subject, stream, bucket and consumer; lets environments share one NATS. Empty in production. */
  NAMESPACE: z.string().regex(/^([A-Za-z0-9_-]{1,32})?$/, 'letters, digits, _ and - only, at most 32').default(''),
  COMMAND_PARTITIONS: positiveInt.max(1024).default(16),
  EOD_CUTOVER_TIME: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (24h)').default('00:00'),
  EOD_TIMEZONE: ianaZone.default('UTC'),
  EOD_STEP_TIMEOUT_MS: positiveInt.default(30 * 60_000),
  /** `off`: closes run only on request (admin.eod.run); `on`: the leader runs D's close when D ends. */
  EOD_SCHEDULER: z.enum(['on', 'off']).default('on'),
  /** The Ed25519 key (PEM, PKCS#8) that signs the sealed reports; the embedded default makes one beside its data. */
  EOD_SIGNING_KEY_FILE: z.string().min(1).optional(),
  /** Where each sealed report is written as `<date>.json` and `<date>.html`. */
  EOD_REPORTS_DIR: z.string().min(1).default('./data/reports'),
  /** Engine balance events and custody polls kept this many days before the last sealed cutover (older ones no close reads). */
  EOD_HISTORY_RETENTION_DAYS: positiveInt.max(36_500).default(90),
  /** Tests and demos only: every built step waits this long before it computes (a slow step to kill the leader in). */
  EOD_STEP_DELAY_MS: nonNegativeInt.default(0),
  SANCTIONS_ACTION: z.enum(['suspended', 'restricted']).default('suspended'),
  CLOSURE_COOLING_OFF_DAYS: z.coerce.number().nonnegative().max(3650).default(30),
  CUSTODY_TOLERANCES: custodyTolerances.default({}),
  RECON_GRACE_MS: nonNegativeInt.default(5_000),
  /** me_db positions held in memory; the rest are in Postgres and loaded when touched (src/recon/limits.ts, ADR 0026). */
  RECON_ME_DB_POSITIONS_MAX: positiveInt.min(100).default(reconLimits.meDbPositionsInMemoryMaxDefault),
  BITGO_ROOT_URI: optionalUrl,
  BITGO_ACCESS_TOKEN: z.string().min(1).optional(),
  BITGO_WALLETS: bitgoWallets.default([]),
  BITGO_POLL_MS: positiveInt.default(30_000),
  ETH_RPC_URL: optionalUrl,
  STAKING_POOL_ADDRESS: z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 0x-prefixed 20-byte address').optional(),
  CHAIN_POLL_MS: positiveInt.default(5_000),
  CHAIN_CONFIRMATIONS: nonNegativeInt.default(12),
  /**
   * This instance's stable identity, the holder written in its leases: a restart with the same
   * id takes its own leases back at once instead of waiting out LEASE_TTL_MS. Default (set by
   * `npm start`): the host name, a hash of the working directory and NAMESPACE, and a slot held
   * by a pid file (src/config/instance-identity.ts). Two instances running at once must never
   * share one.
   */
  INSTANCE_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'letters, digits, _ . and - only, at most 128').optional(),
  /** Partition and leader leases expire this long after their holder stops renewing. */
  LEASE_TTL_MS: positiveInt.min(1_000).default(10_000),
  LIVE_ACTORS_MAX: positiveInt.default(100_000),
  ACTOR_IDLE_MS: positiveInt.default(60_000),
  MAILBOX_DEPTH_MAX: positiveInt.default(1_000),
  COMMAND_MAX_ATTEMPTS: positiveInt.max(100).default(5),
  /** Restarts of account actors after a fault within a minute before the engine stops (a transient failure of NATS or Postgres is not counted). */
  COMMAND_RESTARTS_MAX: positiveInt.max(1_000_000).default(1_000),
  /** Transient NATS or Postgres failures in a row on the command path that pause the intake (the breaker opens). */
  COMMAND_BREAKER_FAILURES: positiveInt.max(100_000).default(20),
  /** The longest pause of an open breaker before it probes again (the first is 1 s, doubling). */
  COMMAND_BREAKER_BACKOFF_MAX_MS: positiveInt.min(1_000).max(600_000).default(30_000),
  ADMIN_TIMEOUT_MS: positiveInt.default(10_000),
  /** The exchange simulator run by the embedded default or `--simulate`. */
  SIMULATOR_USERS: positiveInt.max(100_000).default(50),
  SIMULATOR_SEED: nonNegativeInt.default(1),
  SIMULATOR_RATE_EVENTS_PER_SEC: nonNegativeInt.max(100_000).default(200),
  /** `host:port` of the metrics and health server (`GET /metrics`, `GET /health`); `off` disables it. */
  HTTP_LISTEN: z.string().regex(/^(off|[A-Za-z0-9.:[\]-]*:\d{1,5})$/, 'expected host:port (e.g. 127.0.0.1:9464) or off').default('127.0.0.1:9464'),
  /** How long the ACCOUNT_EVENTS stream keeps events (what an auditor can replay); 0 = forever. */
  ACCOUNT_EVENTS_MAX_AGE_DAYS: z.coerce.number().nonnegative().max(36_500).default(0),
  /** Fee tiers by 30-day volume in FEE_TIER_CURRENCY: `threshold:maker/taker,…` (ADR 0022). */
  FEE_TIERS: z.string().superRefine((text, ctx) => {
    try {
      parseFeeTiers(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  }).default(defaultFeeTiers),
  FEE_TIER_CURRENCY: z.string().regex(currencyCode, 'expected a currency code like USDT').default('USDT'),
  /** The revenue-router gate of the staking rewards step (closed by default: the step is skipped). */
  STAKING_REWARDS_ENABLED: z.enum(['on', 'off']).default('off'),
  /** The day's reward pool in whole units; unset: the balance of house:staking_rewards at the cut. */
  STAKING_REWARDS_POOL: z.string().regex(decimalString, 'expected a decimal amount like 12.5').optional(),
  STAKING_REWARDS_CURRENCY: z.string().regex(currencyCode, 'expected a currency code like ETH').default('ETH'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Settings = z.infer<typeof settingsSchema>;

/** Thrown for a bad setting; its message is the one line start-up prints. */
export class SettingsError extends Error {}

const settingNames = Object.keys(settingsSchema.shape) as Array<keyof Settings>;

/** A name with one of these prefixes is taken for one of ours: if it is not a setting, it is a typo. */
const ourPrefixes = [
  'RECON_', 'NATS_', 'EOD_', 'BITGO_', 'CHAIN_', 'CUSTODY_', 'LEASE_', 'SIMULATOR_', 'ACTOR_', 'MAILBOX_', 'COMMAND_',
  'ADMIN_', 'SANCTIONS_', 'CLOSURE_', 'LIVE_ACTORS_', 'STAKING_', 'HTTP_LISTEN', 'ACCOUNT_EVENTS_', 'DATABASE_',
];
/**
 * Ours-looking names that belong to something else: nats-server's config variables
 * (deploy/nats-server.conf), the `nats` CLI's environment (an operator's shell often has it),
 * a test knob.
 */
const foreignNames = new Set([
  'RECON_ENGINE_PASSWORD', 'RECON_OPERATOR_PASSWORD', 'RECON_AUDITOR_PASSWORD', 'RECON_JS_STORE_DIR',
  'NATS_CONTEXT', 'NATS_CREDS', 'NATS_NKEY', 'NATS_CERT', 'NATS_KEY', 'NATS_CA', 'NATS_TIMEOUT', 'NATS_SOCKS_PROXY',
  'NATS_INBOX_PREFIX', 'NATS_JWT', 'NATS_SEED', 'NATS_TLSFIRST', 'NATS_COLOR', 'NATS_NO_CONTEXT', 'NATS_JS_DOMAIN', 'NATS_JS_API_PREFIX', 'NATS_JS_EVENT_PREFIX',
  'CUSTODY_LOG',
]);

/** The first name that looks like a setting but is not one, with the nearest setting; null when all are known. */
export function unknownSettingName(names: Iterable<string>): { name: string; nearest: string } | null {
  for (const name of names) {
    if (settingNames.includes(name as keyof Settings) || foreignNames.has(name)) continue;
    const nearest = closest(name, settingNames);
    if (ourPrefixes.some((prefix) => name.startsWith(prefix)) || (name.length >= 8 && distance(name, nearest) <= 2)) return { name, nearest };
  }
  return null;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SettingsError(`config: CONFIG_FILE: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SettingsError(`config: CONFIG_FILE: ${path} is not valid JSON`);
  }
  const fileSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));
  const result = fileSchema.safeParse(parsed);
  if (!result.success) throw new SettingsError(`config: CONFIG_FILE: ${path} must be a flat JSON object of settings`);
  const unknown = unknownSettingName(Object.keys(result.data));
  for (const key of Object.keys(result.data)) {
    if (!settingNames.includes(key as keyof Settings)) {
      throw new SettingsError(`config: ${key}: unknown setting in ${path}; did you mean ${unknown?.name === key ? unknown.nearest : closest(key, settingNames)}?`);
    }
  }
  return Object.fromEntries(Object.entries(result.data).map(([k, v]) => [k, String(v)]));
}

/** Loads settings from the config file (if CONFIG_FILE is set) and the environment; env wins. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof Settings, string>> = {}): Settings {
  const fromFile = env.CONFIG_FILE ? readConfigFile(env.CONFIG_FILE) : {};
  const unknown = unknownSettingName(Object.keys(env).filter((name) => env[name] !== undefined));
  if (unknown) throw new SettingsError(`config: ${unknown.name}: not a setting (environment); did you mean ${unknown.nearest}?`);
  const raw: Record<string, unknown> = { ...fromFile };
  for (const name of settingNames) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  Object.assign(raw, overrides);
  const result = settingsSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = issue.path.join('.') || 'settings';
    const given = raw[name as string];
    throw new SettingsError(`config: ${name}: ${issue.message}${given !== undefined ? ` (got "${String(given)}")` : ''}`);
  }
  return result.data;
}

export function coolingOffMs(settings: Settings): number {
  return Math.round(settings.CLOSURE_COOLING_OFF_DAYS * 24 * 60 * 60 * 1000);
}

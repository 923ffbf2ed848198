import { PermissionViolationError, RequestError, TimeoutError, type NatsConnection } from '@nats-io/nats-core';
import { adminErrorCodes } from '../admin/errors.js';
import { loadSettings, SettingsError, type Settings } from '../config/settings.js';
import { redactUrl, ServiceUnreachableError } from '../config/service-unreachable.js';
import { connectNats } from '../nats/connect.js';
import { natsNames, type NatsNames } from '../nats/names.js';
import { CliError, exitCodes } from './exit-codes.js';

export const defaultNatsUrl = 'nats://127.0.0.1:4222';

/** A connection to a running engine's admin service, with the settings the engine uses. */
export interface AdminClient {
  readonly url: string;
  readonly names: NatsNames;
  readonly nc: NatsConnection;
  /** Sends `admin.<relative>` and returns the result, or throws a CliError with the right exit code. */
  request(relative: string, body: unknown, timeoutMs?: number): Promise<unknown>;
  close(): Promise<void>;
}

export function cliSettings(): Settings {
  try {
    return loadSettings();
  } catch (error) {
    if (error instanceof SettingsError) throw new CliError(exitCodes.badInput, 'USAGE', error.message);
    throw error;
  }
}

export async function openAdminClient(settings: Settings = cliSettings(), defaultTimeoutMs = 15_000): Promise<AdminClient> {
  const url = settings.NATS_URL ?? defaultNatsUrl;
  const names = natsNames(settings.NAMESPACE);
  let nc: NatsConnection;
  try {
    nc = await connectNats(url, settings, { name: 'recon-cli', timeout: 5_000, reconnect: false });
  } catch (error) {
    if (error instanceof ServiceUnreachableError) throw new CliError(exitCodes.unreachable, 'UNREACHABLE', error.message);
    throw error;
  }
  const where = `NATS at ${redactUrl(url)} (NATS_URL)${settings.NAMESPACE ? `, namespace ${settings.NAMESPACE} (NAMESPACE)` : ''}`;
  return {
    url,
    names,
    nc,
    async request(relative, body, timeoutMs = defaultTimeoutMs) {
      const subject = `${names.adminPrefix}.${relative}`;
      let reply: unknown;
      try {
        reply = (await nc.request(subject, JSON.stringify(body), { timeout: timeoutMs })).json();
      } catch (error) {
        if (error instanceof RequestError && error.isNoResponders()) {
          throw new CliError(exitCodes.unreachable, 'UNREACHABLE', `no engine answers ${subject} on ${where}: no responders`);
        }
        if (error instanceof TimeoutError || (error instanceof RequestError && error.cause instanceof TimeoutError)) {
          throw new CliError(exitCodes.unreachable, 'UNREACHABLE', `no answer to ${subject} on ${where} within ${timeoutMs} ms`);
        }
        // The server refuses a subject the login may not publish to (deploy/nats-server.conf).
        const cause = (error as { cause?: unknown }).cause;
        if (error instanceof PermissionViolationError || cause instanceof PermissionViolationError || /permissions violation/i.test((error as Error).message)) {
          throw new CliError(exitCodes.engineError, 'UNAUTHORIZED', `NATS refused ${settings.NATS_USER ? `user ${settings.NATS_USER}` : 'this login'} to publish ${subject}: permissions violation`);
        }
        throw new CliError(exitCodes.unreachable, 'UNREACHABLE', `${subject} on ${where}: ${(error as Error).message}`);
      }
      const failure = (reply as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      if (failure && typeof failure === 'object') {
        const code = adminErrorCodes.find((c) => c === failure.code) ?? 'INTERNAL';
        const message = typeof failure.message === 'string' ? failure.message : 'the engine answered an error';
        throw new CliError(code === 'INVALID_REQUEST' ? exitCodes.badInput : exitCodes.engineError, code, message);
      }
      return reply;
    },
    async close() {
      await nc.close().catch(() => undefined);
    },
  };
}

/** Runs `work` with an admin client, closing it afterwards whatever happens. */
export async function withAdmin<T>(work: (admin: AdminClient) => Promise<T>): Promise<T> {
  const admin = await openAdminClient();
  try {
    return await work(admin);
  } finally {
    await admin.close();
  }
}

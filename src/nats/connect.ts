import { readFileSync } from 'node:fs';
import { AuthorizationError, credsAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { redactUrl, ServiceUnreachableError } from '../config/service-unreachable.js';

/** The settings that say how to reach and log in to NATS (the engine's and the CLI's). */
export interface NatsLogin {
  NATS_USER?: string | undefined;
  NATS_PASSWORD?: string | undefined;
  NATS_CREDS_FILE?: string | undefined;
}


/** Connection options for the login in `settings`: user/password, a creds file, or none. */
export function natsLoginOptions(settings: NatsLogin): Pick<ConnectionOptions, 'user' | 'pass' | 'authenticator'> {
  if (settings.NATS_CREDS_FILE) {
    const file = settings.NATS_CREDS_FILE;
    let creds: Uint8Array;
    try {
      creds = new Uint8Array(readFileSync(file));
    } catch (error) {
      throw new ServiceUnreachableError(`cannot read the NATS credentials file ${file} (NATS_CREDS_FILE): ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    return { authenticator: credsAuthenticator(creds) };
  }
  if (settings.NATS_USER) return { user: settings.NATS_USER, ...(settings.NATS_PASSWORD ? { pass: settings.NATS_PASSWORD } : {}) };
  return {};
}

/** One line for a failed connect: what, where, which setting, why. Never the password. */
export function describeNatsConnectError(error: unknown, givenUrl: string, settings: NatsLogin, urlSetting = 'NATS_URL'): string {
  const url = redactUrl(givenUrl);
  const cause = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code ?? ((error as { cause?: { code?: string } }).cause?.code);
  if (error instanceof AuthorizationError || /authorization/i.test(cause)) {
    const who = settings.NATS_CREDS_FILE ? `the credentials in ${settings.NATS_CREDS_FILE} (NATS_CREDS_FILE)` : settings.NATS_USER ? `user ${settings.NATS_USER} (NATS_USER/NATS_PASSWORD)` : 'an anonymous login (set NATS_USER/NATS_PASSWORD or NATS_CREDS_FILE)';
    return `NATS at ${url} (${urlSetting}) refused ${who}: authorization violation`;
  }
  const reason = code === 'ECONNREFUSED' || /ECONNREFUSED|connection refused/i.test(cause) ? 'connection refused' : cause;
  return `cannot reach NATS at ${url} (${urlSetting}): ${reason}`;
}

/** Connects with the settings' login; a failure is a ServiceUnreachableError naming the URL and the setting. */
export async function connectNats(url: string, settings: NatsLogin, options: ConnectionOptions = {}, urlSetting = 'NATS_URL'): Promise<NatsConnection> {
  const login = natsLoginOptions(settings);
  try {
    return await connect({ servers: url, ...login, ...options });
  } catch (error) {
    throw new ServiceUnreachableError(describeNatsConnectError(error, url, settings, urlSetting), { cause: error });
  }
}

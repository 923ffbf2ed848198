import type { NatsConnection } from '@nats-io/nats-core';
import { Svcm, type Service, type ServiceMsg } from '@nats-io/services';
import type { Logger } from '../observability/logger.js';
import type { NatsNames } from '../nats/names.js';
import { AdminError, serviceStatusOf } from './errors.js';

export const adminServiceName = 'recon-admin';
export const adminServiceVersion = '0.1.0';

/** One endpoint: `subject` is relative to the admin prefix (`account.create` → `admin.account.create`). */
export type AdminHandler = (body: unknown) => Promise<unknown>;

export interface AdminServiceOptions {
  nc: NatsConnection;
  names: NatsNames;
  log: Logger;
  endpoints: Record<string, AdminHandler>;
  /** Extra figures for `$SRV.STATS` (supervisor counters and the like). */
  statsData?: () => unknown;
}

/** Request bodies above this are refused before parsing. */
export const adminRequestBytesMax = 64 * 1024;

/**
 * The `recon-admin` NATS micro service: discoverable with `$SRV.PING/INFO/STATS`, JSON in
 * and out, every reply either the result object or `{"error": {code, message}}`.
 */
export async function startAdminService(options: AdminServiceOptions): Promise<Service> {
  const { nc, names, log, endpoints } = options;
  const service = await new Svcm(nc).add({
    name: adminServiceName,
    version: adminServiceVersion,
    description: 'Reconciliation engine admin: accounts, balances, recon status, EOD, audit replay',
    queue: 'recon-admin',
    ...(options.statsData ? { statsHandler: async () => options.statsData?.() } : {}),
  });
  for (const [relative, handler] of Object.entries(endpoints)) {
    const subject = `${names.adminPrefix}.${relative}`;
    service.addEndpoint(relative.replaceAll('.', '-'), {
      subject,
      handler: (_error, msg) => void answer(msg, subject, handler, log),
    });
  }
  // The endpoints' subscriptions are only queued in the client until the server reads them: the
  // flush's round trip comes back after it has, so "ready" means a request from anywhere is served.
  await nc.flush();
  log.info({ event: 'admin.started', service: adminServiceName, id: service.info().id, endpoints: Object.keys(endpoints).map((e) => `${names.adminPrefix}.${e}`) }, 'admin service ready');
  return service;
}

async function answer(msg: ServiceMsg, subject: string, handler: AdminHandler, log: Logger): Promise<void> {
  const startedMs = Date.now();
  try {
    const result = await handler(parseBody(msg));
    msg.respond(JSON.stringify(result));
    log.debug({ event: 'admin.request', subject, ms: Date.now() - startedMs }, 'admin request answered');
  } catch (error) {
    const failure = asAdminError(error);
    if (failure.code === 'INTERNAL') log.error({ event: 'admin.internal_error', subject, err: (error as Error).stack ?? String(error) }, 'admin request failed');
    else log.info({ event: 'admin.request_refused', subject, code: failure.code, message: failure.message }, 'admin request refused');
    msg.respondError(serviceStatusOf[failure.code], failure.message, JSON.stringify({ error: { code: failure.code, message: failure.message } }));
  }
}

function parseBody(msg: ServiceMsg): unknown {
  if (msg.data.length > adminRequestBytesMax) throw new AdminError('INVALID_REQUEST', `request body over ${adminRequestBytesMax} bytes`);
  const text = msg.string();
  if (text.trim() === '') throw new AdminError('INVALID_REQUEST', 'request body is empty; expected a JSON object');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AdminError('INVALID_REQUEST', 'request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AdminError('INVALID_REQUEST', 'request body must be a JSON object');
  return body;
}

function asAdminError(error: unknown): AdminError {
  if (error instanceof AdminError) return error;
  return new AdminError('INTERNAL', error instanceof Error ? error.message : String(error));
}

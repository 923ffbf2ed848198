import type { NatsConnection } from '@nats-io/nats-core';
import type { NatsNames } from '../../src/nats/names.js';

export interface AdminServiceInfo { name: string; endpoints: Array<{ subject: string }> }

/**
 * This namespace's `recon-admin`, among every one that answers `$SRV.INFO` within `maxWaitMs`:
 * several test files may run an engine at once, and the first answer may be another's.
 */
export async function ownAdminInfo(nc: NatsConnection, names: NatsNames, maxWaitMs = 1_000): Promise<AdminServiceInfo | undefined> {
  const infos: AdminServiceInfo[] = [];
  for await (const msg of await nc.requestMany('$SRV.INFO.recon-admin', '', { maxWait: maxWaitMs })) infos.push(msg.json());
  return infos.find((info) => info.endpoints.some((e) => e.subject === `${names.adminPrefix}.account.get`));
}

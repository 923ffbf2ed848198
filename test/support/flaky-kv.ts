import { errors as natsErrors, type NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV } from '@nats-io/kv';
import { testNamespace } from './nats.js';

/** Whether `update` fails, and whether a failing one lands first (its answer lost) or not at all. */
export interface FlakyUpdates { failing: boolean; landed: boolean }

/**
 * The bucket, with `update` failing as a timeout while `mode.failing` says so: after it landed
 * when `mode.landed` (the reply lost, as under load), else without writing (NATS away).
 */
export function flakyBucket(bucket: KV, mode: FlakyUpdates): KV {
  return new Proxy(bucket, {
    get(target, property, receiver) {
      if (property !== 'update') return Reflect.get(target, property, receiver) as unknown;
      return async (key: string, value: string, revision: number) => {
        if (!mode.failing) return target.update(key, value, revision);
        if (mode.landed) await target.update(key, value, revision);
        throw new natsErrors.TimeoutError();
      };
    },
  });
}

/** Lease buckets for a test file: each with the TTL as in production, all destroyed by `close`. */
export function leaseBuckets(nc: () => NatsConnection, suffix: string, ttlMs: number): { create(): Promise<KV>; close(): Promise<void> } {
  const names: string[] = [];
  return {
    create: async () => {
      const name = `${testNamespace()}_${suffix}`;
      names.push(name);
      return new Kvm(nc()).create(name, { history: 1, ttl: ttlMs });
    },
    close: async () => {
      const kvm = new Kvm(nc());
      for (const name of names) await (await kvm.open(name)).destroy().catch(() => undefined);
    },
  };
}

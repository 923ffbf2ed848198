import { errors as natsErrors } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';

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

import type { Delivery, Settlement } from '../../src/supervisor/supervisor.js';

/** What the supervisor did with the test's deliveries: settled ones and parked ones, in order. */
export interface Recorder {
  settled: Array<{ key: string; message: string; settlement: Settlement<string> }>;
  parked: Array<{ key: string; message: string; error: string; attempts: number }>;
}

/** A delivery of `message` to the actor `key` that records its settlement and parking in `rec`. */
export function delivery(rec: Recorder, key: string, message: string): Delivery<string, string> {
  return {
    key,
    message,
    settle: (settlement) => void rec.settled.push({ key, message, settlement }),
    park: async (error, attempts) => void rec.parked.push({ key, message, error, attempts }),
  };
}

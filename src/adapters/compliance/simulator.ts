import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsNames } from '../../nats/names.js';

/**
 * Stands in for the screening and KYC providers in the demo and tests: publishes their events
 * on the contract's subjects (the message id makes a re-send a no-op).
 */
export class ComplianceSimulator {
  constructor(private readonly js: JetStreamClient, private readonly names: NatsNames) {}

  async sanctionsHit(userId: string, list: string, reference: string, tsMs = Date.now()): Promise<void> {
    await this.js.publish(this.names.sanctionsHitSubject(userId), JSON.stringify({ userId, list, reference, ts: new Date(tsMs).toISOString() }), { msgID: `sanctions:${userId}:${reference}` });
  }

  async kycReverified(userId: string, reference: string, tsMs = Date.now()): Promise<void> {
    await this.js.publish(this.names.kycReverifiedSubject(userId), JSON.stringify({ userId, reference, ts: new Date(tsMs).toISOString() }), { msgID: `kyc:${userId}:${reference}` });
  }
}

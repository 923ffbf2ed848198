import { complianceOfDay } from './compliance-listing.js';
import type { EodStep } from './step.js';

/**
 * Step 9: the day's sanctions hits and what was done with each as it arrived (the account moved
 * to SANCTIONS_ACTION with authority system, its orders cancelled on the matching engine), and
 * the ones that could not be acted on, for a person (ADR 0023).
 */
export const sanctionsStep: EodStep = {
  name: 'sanctions',
  skipReason: () => null,
  async run(context) {
    return { figures: { action: context.settings.SANCTIONS_ACTION, ...(await complianceOfDay(context.pool, context, 'sanctions_hit')) } };
  },
};

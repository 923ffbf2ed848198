import { kycReverificationReason } from '../../compliance/compliance-intake.js';
import { complianceOfDay } from './compliance-listing.js';
import type { EodStep } from './step.js';

/**
 * Step 10: the day's KYC re-verifications; an account suspended for re-KYC went back to active
 * as the event arrived; one suspended for anything else (sanctions, a recon freeze, a dispute)
 * was not, and is listed for a person to decide (ADR 0023).
 */
export const kycReactivationStep: EodStep = {
  name: 'kyc_reactivation',
  skipReason: () => null,
  async run(context) {
    return { figures: { reactivates: `suspended with reasonCode ${kycReverificationReason}`, ...(await complianceOfDay(context.pool, context, 'kyc_reverified')) } };
  },
};

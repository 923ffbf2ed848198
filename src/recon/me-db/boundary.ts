import type { BoundaryDefinition } from '../boundary-definition.js';
import { meDbBoundary } from './checkpoint.js';
import { defaultMeDbLimits, MeDbReconciler } from './reconciler.js';

/** Matching engine ↔ ledger: always enabled (both sides are the engine's own NATS and Postgres). */
export const meDbDefinition: BoundaryDefinition = {
  name: meDbBoundary,
  disabledReason: () => null,
  validate: async () => [],
  async start(deps) {
    const { settings, ...rest } = deps;
    const reconciler = new MeDbReconciler({ ...rest, limits: { ...defaultMeDbLimits, graceMs: settings.RECON_GRACE_MS, positionsInMemoryMax: settings.RECON_ME_DB_POSITIONS_MAX } });
    await reconciler.start();
    return reconciler;
  },
};

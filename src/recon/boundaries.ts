import type { Settings } from '../config/settings.js';
import type { Logger } from '../observability/logger.js';
import type { BoundaryDefinition, ConfigProblem } from './boundary-definition.js';
import { dbChainDefinition } from './db-chain/boundary.js';
import { dbCustodyDefinition } from './db-custody/boundary.js';
import { meDbDefinition } from './me-db/boundary.js';

/** Every boundary, in the order the leader starts them. A new boundary is one folder and one line here. */
export const boundaries: readonly BoundaryDefinition[] = [meDbDefinition, dbCustodyDefinition, dbChainDefinition];

/** Every boundary's configuration problems (start-up stops on the first, naming its setting). */
export async function validateBoundaries(settings: Settings, log: Logger): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  for (const boundary of boundaries) problems.push(...(await boundary.validate(settings, log)));
  return problems;
}

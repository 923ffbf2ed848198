/**
 * A fresh, migrated database per test file (or test) on the shared server, so
 * files run in parallel without seeing each other's rows.
 */
import { inject } from 'vitest';
import { createScratchDatabase, type ScratchDatabase } from '../../src/db/scratch-database.js';
import { silentLogger } from './log.js';

export type TestDatabase = ScratchDatabase;

export function createTestDatabase(): Promise<TestDatabase> {
  return createScratchDatabase(inject('databaseUrl'), 'recon_t', silentLogger());
}

import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Logger } from '../observability/logger.js';

export const migrationsDir = fileURLToPath(new URL('../../migrations', import.meta.url));

const lockRetryMs = 250;
const lockRetriesMax = 120;

/**
 * Applies pending migrations from `migrations/` with node-pg-migrate, which
 * holds an advisory lock while it runs; a concurrent instance waits its turn.
 */
export async function migrate(databaseUrl: string, log: Logger): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const applied = await runner({
        databaseUrl,
        dir: migrationsDir,
        direction: 'up',
        migrationsTable: 'pgmigrations',
        count: Infinity,
        checkOrder: true,
        verbose: false,
        log: (message: string) => log.debug({ event: 'migrate.log' }, message),
      });
      if (applied.length > 0) log.info({ event: 'migrate.applied', migrations: applied.map((m) => m.name) }, 'migrations applied');
      return;
    } catch (error) {
      const busy = /Another migration is already running/.test((error as Error).message);
      if (!busy || attempt >= lockRetriesMax) throw error;
      await new Promise((resolve) => setTimeout(resolve, lockRetryMs));
    }
  }
}

import { parseArgs } from 'node:util';
import { ServiceUnreachableError } from './config/service-unreachable.js';
import { loadSettings, SettingsError, type Settings } from './config/settings.js';
import { migrate } from './db/migrate.js';
import { engineLogger, runEngine } from './run.js';
import { createLogger } from './observability/logger.js';

const usage = `usage: npm start [-- [start] [--simulate] [--pretty|--json]]   run the engine (embedded NATS + Postgres + simulator when NATS_URL / DATABASE_URL are unset)
       npm run migrate                          apply migrations to DATABASE_URL and exit`;

/** One line on stderr and a non-zero exit: what start-up failures look like to an operator. */
function die(message: string, code = 1): never {
  process.stderr.write(`recon: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { simulate: { type: 'boolean', default: false }, pretty: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const command = positionals[0] ?? 'start';
  let settings: Settings;
  try {
    settings = loadSettings();
  } catch (error) {
    if (error instanceof SettingsError) die(error.message, 2);
    throw error;
  }
  const log = command === 'start' ? engineLogger(settings, values.pretty ? 'pretty' : values.json ? 'json' : null) : createLogger('recon', settings.LOG_LEVEL);
  switch (command) {
    case 'start':
      await runEngine(settings, log, values.simulate === true);
      return;
    case 'migrate':
      if (!settings.DATABASE_URL) die('migrate: DATABASE_URL is not set', 2);
      await migrate(settings.DATABASE_URL, log);
      return;
    default:
      die(`unknown command "${command}"\n${usage}`, 2);
  }
}

// Exit codes as the CLI's (docs/contract.md §3): 2 a bad setting, 4 a service unreachable.
const exitCodeOf = (error: unknown): number => (error instanceof SettingsError ? 2 : error instanceof ServiceUnreachableError ? 4 : 1);
main().catch((error: unknown) => die(error instanceof Error ? error.message.split('\n')[0] ?? 'failed' : String(error), exitCodeOf(error)));

import { Command, CommanderError } from 'commander';
import { accountCommands } from './commands/account.js';
import { auditCommands } from './commands/audit.js';
import { balanceCommands } from './commands/balance.js';
import { eodCommands } from './commands/eod.js';
import { reconCommands } from './commands/recon.js';
import { startCommand } from './commands/start.js';
import { verifyCommands } from './commands/verify.js';
import { ServiceUnreachableError } from '../config/service-unreachable.js';
import { SettingsError } from '../config/settings.js';
import { CliError, exitCodes } from './exit-codes.js';

/**
 * `recon`: the operator's CLI over the admin service (docs/contract.md, "CLI"). Exit codes:
 * 0 ok, 1 a verification or close found a failure, 2 bad usage or input, 3 the engine
 * answered an error, 4 no engine or NATS reachable (ADR 0017).
 */
const program = new Command('recon')
  .description('Operate a reconciliation engine over its NATS admin service.\nReads NATS_URL (default nats://127.0.0.1:4222), NAMESPACE, NATS_USER/NATS_PASSWORD or NATS_CREDS_FILE.')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride()
  .addHelpText('after', `
Exit codes: 0 ok · 1 a verification or close found a failure · 2 bad usage or input · 3 the engine answered an error · 4 no engine or NATS reachable

Example:
  $ recon account get alice --json`);

startCommand(program);
accountCommands(program);
balanceCommands(program);
reconCommands(program);
eodCommands(program);
verifyCommands(program);
auditCommands(program);

const jsonWanted = process.argv.includes('--json');

// `recon breaks | head`: a reader that stops early is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

/** The engine's error codes are named on the human line; the CLI's own (USAGE, UNREACHABLE) speak for themselves. */
const ownCodes = new Set(['USAGE', 'UNREACHABLE']);

function fail(code: string, message: string, exitCode: number): void {
  if (jsonWanted) process.stdout.write(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`);
  process.stderr.write(`recon: ${ownCodes.has(code) || message.startsWith(`${code}:`) ? '' : `${code}: `}${message}\n`);
  process.exitCode = exitCode;
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version are successes; commander has already printed the usage error.
    const usageOk = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help';
    if (usageOk) process.exitCode = exitCodes.ok;
    else if (error.code === 'commander.executeSubCommandAsync') process.exitCode = error.exitCode;
    else {
      if (jsonWanted) process.stdout.write(`${JSON.stringify({ error: { code: 'USAGE', message: error.message.replace(/^error: /, '') } }, null, 2)}\n`);
      process.exitCode = exitCodes.badInput;
    }
  } else if (error instanceof CliError) {
    fail(error.code, error.message, error.exitCode);
  } else if (error instanceof SettingsError) {
    fail('USAGE', error.message, exitCodes.badInput);
  } else if (error instanceof ServiceUnreachableError) {
    fail('UNREACHABLE', error.message, exitCodes.unreachable);
  } else {
    fail('INTERNAL', error instanceof Error ? error.message : String(error), exitCodes.engineError);
  }
}

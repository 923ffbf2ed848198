import type { Command } from 'commander';

export function startCommand(program: Command): void {
  program.command('start')
    .option('--simulate', 'also run the exchange simulator and the demo faults (always on with the embedded default)')
    .option('--pretty', 'the readable live view even when stdout is not a terminal')
    .option('--json', 'JSON lines on stdout (one log event a line) even on a terminal')
    .description('run the engine (as npm start): the services NATS_URL and DATABASE_URL name, or the embedded default with the demo')
    .addHelpText('after', '\nExample:\n  $ NATS_URL=nats://127.0.0.1:4222 DATABASE_URL=postgres://postgres@127.0.0.1/recon recon start\n')
    .action(async (options: { simulate?: boolean; pretty?: boolean; json?: boolean }) => {
      if (options.pretty === true && options.json === true) {
        const { usageError } = await import('../exit-codes.js');
        throw usageError('--pretty and --json contradict each other: choose one');
      }
      const [{ cliSettings }, { engineLogger, runEngine }] = await Promise.all([import('../admin-client.js'), import('../../run.js')]);
      const settings = cliSettings();
      await runEngine(settings, engineLogger(settings, options.pretty === true ? 'pretty' : options.json === true ? 'json' : null), options.simulate === true);
    });
}

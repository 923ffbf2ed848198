import { parseArgs } from 'node:util';
import { claimInstanceIdentity } from './config/instance-identity.js';
import { loadSettings, SettingsError, type Settings } from './config/settings.js';
import { validateBoundaries } from './recon/boundaries.js';
import { migrate } from './db/migrate.js';
import { resolveServices } from './embedded/services.js';
import { randomV2AccessToken, startBitgoSimulatorFor, type BitgoSimulator } from './adapters/bitgo/simulator/index.js';
import { startEmbeddedStakingChain, type EmbeddedStakingChain } from './embedded/anvil.js';
import { startEngine } from './engine/engine.js';
import { createLogger, type Logger } from './observability/logger.js';

const usage = `usage: npm start [-- [start] [--simulate]]   run the engine (embedded NATS + Postgres + simulator when NATS_URL / DATABASE_URL are unset)
       npm run migrate                          apply migrations to DATABASE_URL and exit`;

/** One line on stderr and a non-zero exit: what start-up failures look like to an operator. */
function die(message: string, code = 1): never {
  process.stderr.write(`recon: ${message}\n`);
  process.exit(code);
}

async function runEngine(given: Settings, log: Logger, simulateFlag: boolean): Promise<void> {
  // A boundary setting that cannot work stops start-up before anything runs (ADR 0021).
  const problem = (await validateBoundaries(given, log))[0];
  if (problem) die(`config: ${problem.setting}: ${problem.message}`, 2);
  const identity = given.INSTANCE_ID ? null : claimInstanceIdentity(given.NAMESPACE);
  let settings: Settings = { ...given, INSTANCE_ID: given.INSTANCE_ID ?? identity?.id };
  // The embedded default is a demo: with no services given, it simulates the exchange too.
  const simulate = simulateFlag || (!settings.NATS_URL && !settings.DATABASE_URL);
  const services = await resolveServices({ natsUrl: settings.NATS_URL, databaseUrl: settings.DATABASE_URL, log });
  let stopping = false;
  const shutdown = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'engine.stopping' }, 'stopping');
    await engine?.stop().catch((error: unknown) => log.error({ err: String(error) }, 'engine stop failed'));
    await chain?.stop().catch(() => undefined);
    await bitgo?.stop().catch(() => undefined);
    await services.stop().catch((error: unknown) => log.error({ err: String(error) }, 'embedded services stop failed'));
    identity?.release();
    process.exit(code);
  };
  // `on`, not `once`: Ctrl-C reaches npm, tsx and us, and tsx relays it again; a second
  // signal must not kill us mid-shutdown and leave the embedded services running.
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  let engine: Awaited<ReturnType<typeof startEngine>> | null = null;
  let chain: EmbeddedStakingChain | null = null;
  let bitgo: BitgoSimulator | null = null;
  await migrate(services.databaseUrl, log);
  if (simulate && !settings.ETH_RPC_URL) {
    // The demo's chain: anvil with the StakingPool deployed, a block a second.
    try {
      chain = await startEmbeddedStakingChain({ log, confirmations: settings.CHAIN_CONFIRMATIONS, blockTimeSec: 1 });
      settings = { ...settings, ETH_RPC_URL: chain.anvil.url, STAKING_POOL_ADDRESS: chain.poolAddress };
    } catch (error) {
      log.warn({ event: 'embedded.anvil_unavailable', err: (error as Error).message }, 'no embedded chain: db_chain stays disabled');
    }
  }
  if (simulate && !settings.BITGO_ROOT_URI) {
    // The demo's custodian: a local server speaking BitGo's REST API, HMAC-signed like BitGo.
    const wallets = [{ currency: 'SOL', coin: 'tsol', walletId: 'demo-sol-hot' }, { currency: 'SOL', coin: 'tsol', walletId: 'demo-sol-cold' }];
    const token = randomV2AccessToken();
    bitgo = await startBitgoSimulatorFor(wallets, token);
    settings = { ...settings, BITGO_ROOT_URI: bitgo.url, BITGO_ACCESS_TOKEN: token, BITGO_WALLETS: wallets, BITGO_POLL_MS: Math.min(settings.BITGO_POLL_MS, 3_000) };
    log.info({ event: 'embedded.bitgo.started', url: bitgo.url, wallets: wallets.map((w) => `${w.currency}=${w.coin}:${w.walletId}`) }, 'BitGo API simulator started');
  }
  engine = await startEngine({
    settings,
    ...(bitgo && settings.BITGO_WALLETS[0] ? { demoCustody: { bitgo, hotWallet: settings.BITGO_WALLETS[0] } } : {}),
    ...(chain ? { demoChain: { anvil: chain.anvil, poolAddress: chain.poolAddress } } : {}),
    natsUrl: services.natsUrl,
    databaseUrl: services.databaseUrl,
    log,
    simulate,
    onFatal: (reason) => {
      log.fatal({ event: 'engine.fatal', reason }, 'supervisor escalated; exiting so the process manager restarts the engine');
      void shutdown(1);
    },
  });
  log.info(
    {
      event: 'engine.ready',
      natsUrl: services.natsUrl,
      databaseUrl: services.databaseUrl.replace(/:[^:@/]*@/, ':***@'),
      embedded: services.embedded,
      instanceId: settings.INSTANCE_ID,
      simulate,
      namespace: settings.NAMESPACE || '(none)',
      adminSubjects: `${settings.NAMESPACE ? `${settings.NAMESPACE}.` : ''}admin.>`,
    },
    `engine ready; try: nats req ${settings.NAMESPACE ? `${settings.NAMESPACE}.` : ''}admin.account.get '{"userId":"${simulate ? 'demo0001' : 'alice'}"}'`,
  );
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { simulate: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  let settings: Settings;
  try {
    settings = loadSettings();
  } catch (error) {
    if (error instanceof SettingsError) die(error.message, 2);
    throw error;
  }
  const log = createLogger('recon', settings.LOG_LEVEL);
  const command = positionals[0] ?? 'start';
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

main().catch((error: unknown) => die(error instanceof Error ? error.message.split('\n')[0] ?? 'failed' : String(error)));

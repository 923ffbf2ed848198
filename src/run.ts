import { randomV2AccessToken, startBitgoSimulatorFor, type BitgoSimulator } from './adapters/bitgo/simulator/index.js';
import { redactUrl, ServiceUnreachableError } from './config/service-unreachable.js';
import { claimInstanceIdentity } from './config/instance-identity.js';
import { SettingsError, type Settings } from './config/settings.js';
import { migrate } from './db/migrate.js';
import { startDemo, type Demo } from './demo/demo.js';
import { startEmbeddedStakingChain, type EmbeddedStakingChain } from './embedded/anvil.js';
import { resolveServices } from './embedded/services.js';
import { connectNats } from './nats/connect.js';
import { natsNames } from './nats/names.js';
import { logNotableBusEvents } from './observability/bus-log.js';
import { startingHealth } from './observability/health.js';
import { parseListen, startHttpServer, type HttpServer } from './observability/http-server.js';
import { liveViewDestination } from './observability/live-view.js';
import { createLogger, type Logger } from './observability/logger.js';
import { metricsText } from './observability/metrics.js';
import { validateBoundaries } from './recon/boundaries.js';
import { startEngine, type Engine } from './engine/engine.js';
import type { EngineObservability } from './engine/observability.js';

/**
 * Runs the engine until SIGINT/SIGTERM: `npm start` and `recon start` both come here. With
 * no NATS_URL and DATABASE_URL it starts the embedded default and the demo around it.
 */
export async function runEngine(given: Settings, log: Logger, simulateFlag: boolean): Promise<void> {
  // A boundary setting that cannot work stops start-up before anything runs (ADR 0021).
  const problem = (await validateBoundaries(given, log))[0];
  if (problem) throw new SettingsError(`config: ${problem.setting}: ${problem.message}`);
  const identity = given.INSTANCE_ID ? null : claimInstanceIdentity(given.NAMESPACE);
  let settings: Settings = { ...given, INSTANCE_ID: given.INSTANCE_ID ?? identity?.id };
  // The embedded default is a demo: with no services given, it simulates the exchange too.
  const simulate = simulateFlag || (!settings.NATS_URL && !settings.DATABASE_URL);
  // Bound first, so /health says "starting" until ready. A port in use (a second instance on
  // the same host with the default) costs this instance its metrics, not its start: said loudly.
  const listen = parseListen(settings.HTTP_LISTEN);
  let observed: EngineObservability | null = null;
  const http: HttpServer | null = listen
    ? await startHttpServer(listen, { health: async () => observed?.health() ?? startingHealth(), metrics: () => metricsText(observed?.metrics ?? null) }, log).catch((error: unknown) => {
      log.warn({ event: 'http.unavailable', listen: settings.HTTP_LISTEN, err: (error as Error).message }, `${(error as Error).message}: this instance serves no metrics and health; set HTTP_LISTEN to a free port`);
      return null;
    })
    : null;
  const services = await resolveServices({ natsUrl: settings.NATS_URL, databaseUrl: settings.DATABASE_URL, log });
  let stopping = false;
  /** Stops whatever has started, in reverse order; used by a signal and by a failed start-up. */
  const stopAll = async (): Promise<void> => {
    clearInterval(summaryTimer);
    await http?.close().catch(() => undefined);
    await demo?.stop().catch((error: unknown) => log.error({ err: String(error) }, 'demo stop failed'));
    await engine?.stop().catch((error: unknown) => log.error({ err: String(error) }, 'engine stop failed'));
    await chain?.stop().catch(() => undefined);
    await bitgo?.stop().catch(() => undefined);
    await services.stop().catch((error: unknown) => log.error({ err: String(error) }, 'embedded services stop failed'));
    identity?.release();
  };
  const shutdown = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'engine.stopping' }, 'stopping');
    await stopAll();
    process.exit(code);
  };
  // `on`, not `once`: Ctrl-C reaches npm, tsx and us, and tsx relays it again; a second
  // signal must not kill us mid-shutdown and leave the embedded services running.
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  let engine: Awaited<ReturnType<typeof startEngine>> | null = null;
  let demo: Demo | null = null;
  let summaryTimer: NodeJS.Timeout | undefined;
  let chain: EmbeddedStakingChain | null = null;
  let bitgo: BitgoSimulator | null = null;
  try {
    await startUp();
  } catch (error) {
    // A start-up that fails leaves nothing listening or running (the HTTP server would keep the
    // process alive after the one line that says why).
    stopping = true;
    await stopAll();
    throw error;
  }

  async function startUp(): Promise<void> {
    // Both services answer before anything is written: a wrong URL stops here, named.
    if (!services.embedded.nats) await (await connectNats(services.natsUrl, settings, { name: 'recon-engine-probe', reconnect: false, timeout: 5_000 })).close();
    await migrate(services.databaseUrl, log).catch((error: unknown) => {
      throw new ServiceUnreachableError(describePostgresError(error, services.databaseUrl, services.embedded.postgres ? 'embedded' : 'DATABASE_URL'));
    });
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
      natsUrl: services.natsUrl,
      embeddedNats: services.embedded.nats,
      databaseUrl: services.databaseUrl,
      log,
      onFatal: (reason) => {
        log.fatal({ event: 'engine.fatal', reason }, 'supervisor escalated; exiting so the process manager restarts the engine');
        void shutdown(1);
      },
    });
    // The demo runs beside the engine, as a client of it: the engine knows nothing of simulators.
    if (simulate) demo = await startSimulation(engine, settings, log, chain, bitgo);
    logNotableBusEvents(engine.nc, natsNames(settings.NAMESPACE), log);
    summaryTimer = startSummary(engine, log);
    observed = engine.observability;
    log.info({ event: 'http.listening', url: http?.url ?? null }, http ? `metrics on ${http.url}/metrics, health on ${http.url}/health (HTTP_LISTEN)` : `no metrics and health server (HTTP_LISTEN=${settings.HTTP_LISTEN})`);
    log.info(
      {
        event: 'engine.ready',
        http: http?.url ?? null,
        natsUrl: redactUrl(services.natsUrl),
        databaseUrl: redactUrl(services.databaseUrl),
        embedded: services.embedded,
        instanceId: settings.INSTANCE_ID,
        simulate,
        namespace: settings.NAMESPACE || '(none)',
        adminSubjects: `${settings.NAMESPACE ? `${settings.NAMESPACE}.` : ''}admin.>`,
      },
      `engine ready; try: ${services.embedded.nats ? `NATS_URL=${services.natsUrl} ` : ''}${settings.NAMESPACE ? `NAMESPACE=${settings.NAMESPACE} ` : ''}npx recon account get ${simulate ? 'demo0001' : 'alice'}`,
    );
  }
}


/** The demo against a started engine; if it cannot start, the engine is stopped too (as start-up failed). */
async function startSimulation(engine: Engine, settings: Settings, log: Logger, chain: EmbeddedStakingChain | null, bitgo: BitgoSimulator | null): Promise<Demo> {
  const hotWallet = settings.BITGO_WALLETS[0];
  try {
    return await startDemo({
      nc: engine.nc, pool: engine.pool, names: engine.names, commands: engine.commands, settings, log,
      ...(chain ? { chain: { anvil: chain.anvil, poolAddress: chain.poolAddress } } : {}),
      ...(bitgo && hotWallet ? { custody: { bitgo, hotWallet } } : {}),
    });
  } catch (error) {
    await engine.stop().catch(() => undefined);
    throw error;
  }
}

/** How often the one-line summary (events/s, live actors, open breaks) is logged. */
export const summaryIntervalMs = 10_000;

function startSummary(engine: Engine, log: Logger): NodeJS.Timeout {
  let last = { atMs: Date.now(), events: engine.observability.summary().eventsHandled };
  const timer = setInterval(() => {
    const now = { atMs: Date.now(), ...engine.observability.summary() };
    const eventsPerSec = Math.round(((now.eventsHandled - last.events) * 1000) / Math.max(1, now.atMs - last.atMs));
    last = { atMs: now.atMs, events: now.eventsHandled };
    log.info({ event: 'engine.summary', eventsPerSec, liveActors: now.liveActors, openBreaks: now.openBreaks, leader: engine.isLeader() }, `${eventsPerSec} events/s, ${now.liveActors} live actors, ${now.openBreaks} open breaks`);
  }, summaryIntervalMs);
  timer.unref();
  return timer;
}

/** The engine's logger: the live view on a terminal (or with --pretty), JSON lines otherwise. */
/** The live view on a terminal, JSON lines when piped; `pretty` or `json` forces one (`recon start --pretty|--json`). */
export function engineLogger(settings: Settings, force: 'pretty' | 'json' | null): Logger {
  const pretty = force === 'pretty' || (force === null && process.stdout.isTTY === true);
  return createLogger('recon', settings.LOG_LEVEL, pretty ? liveViewDestination(process.stdout) : undefined);
}


/** One line for a Postgres that cannot be used: where, which setting, why. */
export function describePostgresError(error: unknown, databaseUrl: string, setting: string): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error);
  const reason = code === 'ECONNREFUSED' ? 'connection refused' : message;
  return `cannot use PostgreSQL at ${redactUrl(databaseUrl)} (${setting}): ${reason}`;
}

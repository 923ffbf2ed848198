import type { Logger } from '../../src/observability/logger.js';
import { startTestEngine, type TestEngine } from './engine.js';
import { sharedNatsUrl } from './nats.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/**
 * A test engine whose NATS connection (only) goes through a TCP proxy in front of the shared
 * server, so a test can cut it at a chosen byte; the test's own client is connected directly.
 */
export async function startProxiedTestEngine(log: Logger): Promise<{ proxy: TcpProxy; t: TestEngine }> {
  const shared = new URL(sharedNatsUrl().replace(/^nats:/, 'http:'));
  const proxy = await startTcpProxy({ host: shared.hostname, port: Number(shared.port || 4222) });
  const t = await startTestEngine({}, { engineNatsUrl: `nats://127.0.0.1:${proxy.port}`, log });
  return { proxy, t };
}

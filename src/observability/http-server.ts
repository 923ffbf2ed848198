import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.js';
import type { HealthReport } from './health.js';

export interface HttpEndpoints {
  health(): Promise<HealthReport>;
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface HttpServer {
  /** `http://host:port` actually bound (port 0 picks a free one). */
  url: string;
  close(): Promise<void>;
}

/** Parses HTTP_LISTEN (`host:port`, `[::1]:port`); null for `off`. */
export function parseListen(listen: string): { host: string; port: number } | null {
  if (listen === 'off') return null;
  const at = listen.lastIndexOf(':');
  const host = listen.slice(0, at).replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = Number(listen.slice(at + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`HTTP_LISTEN: port out of range in "${listen}"`);
  return { host, port };
}

/** `GET /metrics` (Prometheus text) and `GET /health` (200, or 503 naming what is down). */
export async function startHttpServer(listen: { host: string; port: number }, endpoints: HttpEndpoints, log: Logger): Promise<HttpServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    void (async () => {
      try {
        if (request.method !== 'GET') {
          response.writeHead(405, { allow: 'GET' }).end();
        } else if (path === '/metrics') {
          const { contentType, body } = await endpoints.metrics();
          response.writeHead(200, { 'content-type': contentType }).end(body);
        } else if (path === '/health') {
          const report = await endpoints.health();
          const body = report.status === 'ok' ? report : { ...report, message: `down: ${report.down.map((name) => `${name} (${report.dependencies[name]?.detail ?? 'down'})`).join(', ')}` };
          response.writeHead(report.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
        } else {
          response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /health\n');
        }
      } catch (error) {
        log.error({ event: 'http.failed', path, err: (error as Error).message }, 'HTTP request failed');
        if (!response.headersSent) response.writeHead(500).end();
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${listen.host}:${listen.port} (HTTP_LISTEN): ${error.code ?? error.message}`)));
    server.listen(listen.port, listen.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

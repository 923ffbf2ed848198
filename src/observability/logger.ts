import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * One structured event a line on stdout; `LOG_LEVEL` picks the threshold. A `destination`
 * (the live view, src/observability/live-view.ts) receives the same JSON lines instead.
 */
export function createLogger(name: string, level: string = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options = { name, level, base: { svc: name }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
}

import { pino, type Logger } from 'pino';

export type { Logger };

/** One structured event a line on stdout; `LOG_LEVEL` picks the threshold. */
export function createLogger(name: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { svc: name }, timestamp: pino.stdTimeFunctions.isoTime });
}

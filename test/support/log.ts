import { createLogger, type Logger } from '../../src/observability/logger.js';

/** A logger that writes nothing: tests assert on behaviour, not on log lines. */
export function silentLogger(): Logger {
  return createLogger('test', 'silent');
}

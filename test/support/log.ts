import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createLogger, type Logger } from '../../src/observability/logger.js';

/** A logger that writes nothing: tests assert on behaviour, not on log lines. */
export function silentLogger(): Logger {
  return createLogger('test', 'silent');
}

/** A logger whose lines (parsed) a test can read. */
export function capturingLogger(level = 'info'): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level }, sink), lines };
}

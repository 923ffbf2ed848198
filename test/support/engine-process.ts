import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/nats-core';
import type { NatsNames } from '../../src/nats/names.js';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** An engine as `npm start` runs it, in a child process a test can SIGKILL, SIGSTOP and restart. */
export class EngineProcess {
  private child: ChildProcess | null = null;
  /** The tail of its stdout and stderr (pino lines at LOG_LEVEL). */
  output = '';

  constructor(private readonly env: Record<string, string>) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(extraEnv: Record<string, string> = {}): void {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: projectRoot,
      env: { ...process.env, LOG_LEVEL: 'warn', ...this.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-200_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    this.child = null;
  }

  /** Log lines (parsed) whose `event` is `event`. */
  events(event: string): Array<Record<string, unknown>> {
    return this.output.split('\n').filter((l) => l.includes(`"event":"${event}"`)).flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }
}

/** Resolves once some engine of the namespace answers admin requests. */
export async function engineAnswers(nc: NatsConnection, names: NatsNames, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await nc.request(`${names.adminPrefix}.account.get`, JSON.stringify({ userId: 'readiness-probe' }), { timeout: 500 });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error('no engine answered admin requests in time');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

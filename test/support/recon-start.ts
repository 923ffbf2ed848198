import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { until } from './until.js';

const reconBin = fileURLToPath(new URL('../../bin/recon.js', import.meta.url));

export interface ReconStart {
  pid: number;
  /** Everything the engine wrote on stdout and stderr so far. */
  output(): string;
  /** SIGTERM, and wait for the exit code. */
  stop(): Promise<number | null>;
  exited: Promise<number | null>;
}

/** The engine as operators run it: `recon start [args]` in a child process with only `env` (plus PATH, HOME). */
export async function startReconProcess(env: Record<string, string>, args: string[] = [], readyPattern: RegExp | null = /"event":"engine\.ready"/): Promise<ReconStart> {
  const child = spawn(process.execPath, [reconBin, 'start', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  if (readyPattern) {
    await until('the engine process to be ready', () => {
      if (exitCode !== undefined) throw new Error(`engine exited (${exitCode}):\n${output.slice(-3000)}`);
      return readyPattern.test(output);
    }, 60_000).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
  }
  return {
    pid: child.pid ?? -1,
    output: () => output,
    exited,
    async stop() {
      if (exitCode === undefined) child.kill('SIGTERM');
      return exited;
    },
  };
}

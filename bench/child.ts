/**
 * A bench process of its own (the engine, the raw pipeline): started with an IPC channel, ready
 * when it says `{ ready: true }`, asked questions over IPC, stopped with SIGTERM (a clean exit,
 * so `--cpu-prof` writes its profile), SIGKILL after 15 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

export interface BenchChild {
  readonly pid: number;
  /** Sends `question` and resolves with the first message that `isAnswer` accepts. */
  ask<T>(question: object, isAnswer: (message: unknown) => message is T, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

export async function startBenchChild(script: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Promise<BenchChild> {
  let output = '';
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  // BENCH_CHILD_LOG_DIR keeps each child's whole output (its log lines) in <dir>/<script>-<start time>.log.
  const logDir = process.env.BENCH_CHILD_LOG_DIR;
  const logFile = logDir ? createWriteStream(path.join(logDir, `${path.basename(script, '.ts')}-${Date.now()}.log`)) : null;
  const onData = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-8_000);
    logFile?.write(chunk);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.once('exit', () => logFile?.end());
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`${script} exited (${code}) before it was ready:\n${output}`));
    child.once('exit', onExit);
    child.on('message', (m: unknown) => {
      if ((m as { ready?: boolean } | null)?.ready === true) {
        child.off('exit', onExit);
        resolve();
      }
    });
  });
  if (!child.pid) throw new Error(`${script}: no pid`);
  let stopping: Promise<void> | null = null;
  return {
    pid: child.pid,
    ask<T>(question: object, isAnswer: (message: unknown) => message is T, timeoutMs = 30_000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${script} did not answer ${JSON.stringify(question)}`)), timeoutMs);
        const onMessage = (m: unknown): void => {
          if (!isAnswer(m)) return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(m);
        };
        child.on('message', onMessage);
        child.send(question);
      });
    },
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/**
 * A private `nats-server -js` child process for the embedded (dev/test) mode.
 * Restartable on the same port and store dir to simulate a NATS restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../observability/logger.js';
import { watchChild } from './watched-child.js';

export interface StartNatsServerOptions {
  binary: string;
  log: Logger;
  /** JetStream store dir; a temp dir (removed by stop()) if omitted. */
  storeDir?: string;
  /** TCP port on 127.0.0.1; a free one if omitted. */
  port?: number;
  /** How long to wait for the server to accept connections (default 10 s). */
  readyTimeoutMs?: number;
}

export interface NatsServerHandle {
  url: string;
  port: number;
  storeDir: string;
  pid: number;
  /** SIGTERM, wait for exit (SIGKILL after 10 s); removes the store only if we created it. */
  stop(): Promise<void>;
  /** Send a signal without waiting (e.g. SIGKILL to simulate a crash); stop() still works after. */
  kill(signal?: NodeJS.Signals): void;
}

/** Ask the kernel for a free TCP port on 127.0.0.1 (bind to 0, read it, close). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close((err) => (err ? reject(err) : port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Try one TCP connect; resolves true when something accepts. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    const done = (ok: boolean) => {
      sock.removeAllListeners();
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Keeps the last `max` bytes of a stream for error messages. */
export class OutputTail {
  private buf = '';
  constructor(private readonly max = 4096) {}
  push(chunk: Buffer | string): void {
    this.buf += chunk.toString();
    if (this.buf.length > this.max) this.buf = this.buf.slice(-this.max);
  }
  lines(n = 8): string {
    return this.buf.trim().split('\n').slice(-n).join('\n');
  }
}

export async function startNatsServer(opts: StartNatsServerOptions): Promise<NatsServerHandle> {
  const { binary, log } = opts;
  const ownsStore = !opts.storeDir;
  const storeDir = opts.storeDir
    ? path.resolve(opts.storeDir)
    : await fs.mkdtemp(path.join(os.tmpdir(), 'recon-nats-'));
  await fs.mkdir(storeDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const readyTimeoutMs = opts.readyTimeoutMs ?? 10_000;
  const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir];

  const t0 = Date.now();
  const tail = new OutputTail();
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  // nats-server logs "Server is ready" once its client listener is bound; we also
  // require a TCP connect so we never mistake someone else's listener for ours.
  let sawReady = false;
  const onOutput = (c: Buffer) => {
    tail.push(c);
    if (!sawReady && tail.lines(40).includes('Server is ready')) sawReady = true;
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);

  const watched = watchChild(child);
  // If our process dies without calling stop(), don't leave the server running.
  const onExit = () => {
    if (!watched.exited) child.kill('SIGKILL');
  };
  process.once('exit', onExit);

  const cleanupFailedStart = async () => {
    process.removeListener('exit', onExit);
    if (!watched.exited && !watched.spawnError) {
      child.kill('SIGKILL');
      await watched.exit;
    }
    if (ownsStore) await fs.rm(storeDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (watched.spawnError) {
      await cleanupFailedStart();
      throw new Error(`nats-server failed to spawn (${binary}): ${watched.spawnError.message}`);
    }
    if (watched.exited) {
      await cleanupFailedStart();
      throw new Error(`nats-server exited during startup (${watched.exitInfo}) on port ${port}:\n${tail.lines()}`);
    }
    if ((sawReady || Date.now() - t0 > 2_000) && (await canConnect(port))) break;
    if (Date.now() > deadline) {
      await cleanupFailedStart();
      throw new Error(`nats-server did not accept connections on 127.0.0.1:${port} within ${readyTimeoutMs} ms:\n${tail.lines()}`);
    }
    await sleep(25);
  }

  const pid = child.pid ?? -1;
  log.info({ port, storeDir, pid, ms: Date.now() - t0 }, 'nats-server started');

  let stopping: Promise<void> | undefined;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    pid,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (!watched.exited) child.kill(signal);
    },
    stop() {
      stopping ??= (async () => {
        await watched.terminate([['SIGTERM', 0], ['SIGKILL', 10_000]]);
        process.removeListener('exit', onExit);
        if (ownsStore) await fs.rm(storeDir, { recursive: true, force: true });
        log.info({ port, pid }, 'nats-server stopped');
      })();
      return stopping;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

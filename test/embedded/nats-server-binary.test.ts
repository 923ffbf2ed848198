import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { locateNatsServer, NATS_SERVER_NOT_FOUND } from '../../src/embedded/nats-server-binary.js';
import { silentLogger } from '../support/log.js';

/** apt-get present and its package lists know nats-server (they are empty before a first `apt-get update`). */
const hasApt = (() => {
  try {
    execFileSync('apt-cache', ['show', 'nats-server'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('locateNatsServer', () => {
  it('stops with one line saying how to get it when it is nowhere and may not be fetched', async () => {
    const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'recon-cache-'));
    await expect(locateNatsServer({ cacheDir, log: silentLogger(), searchPath: [], download: false })).rejects.toThrow(NATS_SERVER_NOT_FOUND);
    expect(NATS_SERVER_NOT_FOUND).not.toContain('\n');
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  it.runIf(hasApt)('fetches Debian\'s package into the cache without root tools beyond apt-get download, then reuses it', { timeout: 120_000 }, async () => {
    const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'recon-cache-'));
    try {
      const fetched = await locateNatsServer({ cacheDir, log: silentLogger(), searchPath: [] });
      expect(fetched.startsWith(cacheDir)).toBe(true);
      expect(execFileSync(fetched, ['--version'], { encoding: 'utf8' })).toMatch(/nats-server: v2\./);
      const again = await locateNatsServer({ cacheDir, log: silentLogger(), searchPath: [], download: false });
      expect(again).toBe(fetched);
    } finally {
      await fs.rm(cacheDir, { recursive: true, force: true });
    }
  });
});

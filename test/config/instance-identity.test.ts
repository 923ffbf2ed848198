import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimInstanceIdentity } from '../../src/config/instance-identity.js';

const dirs: string[] = [];
const scratch = (): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'recon-ids-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the default INSTANCE_ID', () => {
  it('is stable for a restart after a crash, distinct for instances running at once, per directory and namespace', () => {
    const dir = scratch();
    const options = { host: 'box', cwd: '/srv/recon', dir };
    const first = claimInstanceIdentity('prod', options);
    const second = claimInstanceIdentity('prod', options); // running at the same time (here: the same pid holds slot 0)
    expect(first.id).toMatch(/^box-[0-9a-f]{10}-0$/);
    expect(second.id).toBe(first.id.replace(/-0$/, '-1'));
    expect(claimInstanceIdentity('staging', options).id.split('-')[1]).not.toBe(first.id.split('-')[1]);
    // The first instance dies without cleaning up: its pid file names a process that is gone.
    first.release();
    writeFileSync(path.join(dir, `${first.id.split('-')[1]}-0.pid`), '999999999');
    expect(claimInstanceIdentity('prod', options).id).toBe(first.id);
  });
});

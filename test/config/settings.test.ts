import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { coolingOffMs, loadSettings, SettingsError } from '../../src/config/settings.js';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

describe('settings', () => {
  it('has the documented defaults (docs/contract.md §6)', () => {
    const s = loadSettings({});
    expect(s).toMatchObject({
      EOD_CUTOVER_TIME: '00:00', EOD_TIMEZONE: 'UTC', SANCTIONS_ACTION: 'suspended', CLOSURE_COOLING_OFF_DAYS: 30,
      RECON_GRACE_MS: 5_000, BITGO_POLL_MS: 30_000, CHAIN_POLL_MS: 5_000, CHAIN_CONFIRMATIONS: 12, EOD_STEP_TIMEOUT_MS: 1_800_000,
      CUSTODY_TOLERANCES: {}, BITGO_WALLETS: [],
    });
    expect(coolingOffMs(s)).toBe(30 * 24 * 60 * 60 * 1000);
  });

  it('parses the structured settings', () => {
    const s = loadSettings({
      BITGO_WALLETS: 'BTC=tbtc:w1,BTC=tbtc:w2,ETH=hteth:w3',
      CUSTODY_TOLERANCES: 'BTC=0.001,ETH=0.01',
      EOD_TIMEZONE: 'America/New_York',
      EOD_CUTOVER_TIME: '16:00',
      SANCTIONS_ACTION: 'restricted',
    });
    expect(s.BITGO_WALLETS).toEqual([
      { currency: 'BTC', coin: 'tbtc', walletId: 'w1' },
      { currency: 'BTC', coin: 'tbtc', walletId: 'w2' },
      { currency: 'ETH', coin: 'hteth', walletId: 'w3' },
    ]);
    expect(s.CUSTODY_TOLERANCES).toEqual({ BTC: '0.001', ETH: '0.01' });
  });

  it.each([
    ['RECON_GRACE_MS', 'soon'],
    ['EOD_TIMEZONE', 'Mars/Olympus'],
    ['EOD_CUTOVER_TIME', '25:00'],
    ['SANCTIONS_ACTION', 'banned'],
    ['CUSTODY_TOLERANCES', 'BTC=lots'],
    ['BITGO_WALLETS', 'BTC=w1'],
    ['DATABASE_URL', 'mysql://x'],
    ['STAKING_POOL_ADDRESS', '0x123'],
    ['COMMAND_PARTITIONS', '0'],
  ])('a bad %s is one line naming the setting', (name, value) => {
    expect(() => loadSettings({ [name]: value })).toThrow(SettingsError);
    try {
      loadSettings({ [name]: value });
    } catch (error) {
      expect((error as Error).message).toMatch(new RegExp(`^config: ${name}: .+`));
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('reads a JSON config file; the environment wins over it; unknown keys are refused', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'recon-settings-'));
    const file = path.join(dir, 'recon.json');
    writeFileSync(file, JSON.stringify({ RECON_GRACE_MS: 1234, EOD_TIMEZONE: 'Asia/Tokyo' }));
    expect(loadSettings({ CONFIG_FILE: file })).toMatchObject({ RECON_GRACE_MS: 1234, EOD_TIMEZONE: 'Asia/Tokyo' });
    expect(loadSettings({ CONFIG_FILE: file, RECON_GRACE_MS: '99' }).RECON_GRACE_MS).toBe(99);
    writeFileSync(file, JSON.stringify({ RECON_GRACE: 1 }));
    expect(() => loadSettings({ CONFIG_FILE: file })).toThrow(/^config: RECON_GRACE: unknown setting/);
  });

  it('npm start with a bad setting stops with one line and exit code 2', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: projectRoot, env: { ...process.env, RECON_GRACE_MS: '-5' }, encoding: 'utf8', timeout: 30_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^recon: config: RECON_GRACE_MS: /)]);
  });
});

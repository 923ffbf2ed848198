import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

/**
 * `recon start` takes `--json` like every command (docs/contract.md, CLI): JSON lines on stdout
 * even on a terminal. A start-up that fails says why in one line and exits, with nothing left
 * running: before, the metrics server bound first kept the process alive after the error.
 */
const unreachable = { NATS_URL: 'nats://127.0.0.1:1', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', HTTP_LISTEN: '127.0.0.1:0' };

describe('recon start', () => {
  it('--json is accepted; NATS unreachable: exit 4 with the reason, and the process ends', async () => {
    const run = await runCli(['start', '--json'], unreachable);
    expect(run.code).toBe(4);
    expect(run.stdout).toContain('"UNREACHABLE"');
    expect(run.stderr).toMatch(/cannot reach NATS at nats:\/\/127\.0\.0\.1:1 \(NATS_URL\)/);
  }, 30_000);

  it('--pretty and --json together are bad usage (exit 2)', async () => {
    const run = await runCli(['start', '--pretty', '--json'], unreachable);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--pretty and --json/);
  }, 30_000);
});

import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

/**
 * The CLI checks an argument with the engine's own schema (src/cli/arguments.ts): it refuses
 * (exit 2) exactly what the engine would refuse, and sends what the engine accepts. With NATS
 * unreachable, an accepted argument gets as far as the connection (exit 4).
 */
const unreachable = { NATS_URL: 'nats://127.0.0.1:1' };

describe('recon arguments as the engine reads them', () => {
  it('a currency the engine accepts (USDC.e, a 20-character code) is sent: eod proof and balance adjust reach NATS', async () => {
    for (const args of [
      ['eod', 'proof', '2026-12-01', 'alice', 'USDC.e', '--json'],
      ['eod', 'proof', '2026-12-01', 'alice', 'ABCDEFGHIJKLMNOPQRST', '--json'],
      ['balance', 'adjust', 'alice', 'USDC.e', '1', '--reason', 'r', '--actor', 'a', '--key', 'k1', '--json'],
    ]) {
      const run = await runCli(args, unreachable);
      expect(run.code, args.join(' ')).toBe(4);
      expect(run.json(), args.join(' ')).toMatchObject({ error: { code: 'UNREACHABLE' } });
    }
  });

  it('a currency the engine refuses is bad input (exit 2) before anything is sent', async () => {
    for (const args of [
      ['eod', 'proof', '2026-12-01', 'alice', 'B TC', '--json'],
      ['balance', 'adjust', 'alice', 'BTC/ETH', '1', '--reason', 'r', '--actor', 'a', '--key', 'k1', '--json'],
    ]) {
      const run = await runCli(args, unreachable);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.json(), args.join(' ')).toMatchObject({ error: { code: 'USAGE', message: expect.stringMatching(/currency/) } });
    }
  });
});

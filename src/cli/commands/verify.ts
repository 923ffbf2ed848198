import type { Command } from 'commander';
import { exitCodes } from '../exit-codes.js';
import { bad, emit, ok, withCommon, type CommonOptions } from '../output.js';
import { verifyProof, verifyReports } from '../lazy.js';
import type { VerificationOutcome } from '../verifiers.js';

const render = (r: VerificationOutcome): string => [
  ...r.checked.map((c) => `${c.ok ? ok('ok    ') : bad('FAILED')} ${c.file}: ${c.detail}`),
  r.ok ? ok('verified') : bad('verification failed'),
].join('\n');

export function verifyCommands(program: Command): void {
  withCommon(
    program.command('report').description('sealed EOD reports, offline').addHelpText('after', '\nExample:\n  $ recon report verify report-2026-11-30.json report-2026-12-01.json\n').command('verify').argument('<files...>', 'report documents (recon eod report <date> --out <file>), any order')
      .option('--trust <publicKey...>', 'only accept reports signed by these Ed25519 public keys (lowercase hex)')
      .description('check each report\'s SHA-256 (RFC 8785) and Ed25519 signature and the prevSha256 chain between consecutive days; names the first that fails'),
    'recon report verify report-2026-11-30.json report-2026-12-01.json',
  ).action(async (files: string[], options: CommonOptions & { trust?: string[] }) => {
    const result = await verifyReports(files, options.trust);
    emit(options, result, render);
    if (!result.ok) process.exitCode = exitCodes.verificationFailed;
  });

  withCommon(
    program.command('proof').description('proofs of liabilities, offline').addHelpText('after', '\nExample:\n  $ recon proof verify alice-BTC.json --report report-2026-12-01.json\n').command('verify').argument('<file>', 'a proof (recon eod proof … --out <file>)')
      .option('--report <file>', 'the signed report of that date: also check the root and total against it')
      .description('recompute the Merkle-sum root from the user\'s leaf and path and compare with the proof\'s (and the report\'s) root and total'),
    'recon proof verify alice-BTC.json --report report-2026-12-01.json',
  ).action(async (file: string, options: CommonOptions & { report?: string }) => {
    const result = await verifyProof(file, options.report);
    emit(options, result, render);
    if (!result.ok) process.exitCode = exitCodes.verificationFailed;
  });
}

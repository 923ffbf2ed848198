import { CliError, exitCodes } from './exit-codes.js';

/**
 * The offline verifiers of the sealed report chain and of a user's proof. They live with the
 * close (src/eod/report, src/eod/proof); until those land, the commands say so plainly.
 */
export interface VerificationOutcome {
  ok: boolean;
  /** What was checked, in plain words, one entry per file (or check). */
  checked: Array<{ file: string; ok: boolean; detail: string }>;
  /** The first failure, named; null when everything verified. */
  firstFailure: string | null;
}

export async function verifyReports(paths: string[]): Promise<VerificationOutcome> {
  void paths;
  throw new CliError(exitCodes.badInput, 'NOT_AVAILABLE', 'report verification is not available in this build (src/eod/report is missing)');
}

export async function verifyProof(path: string, reportPath?: string): Promise<VerificationOutcome> {
  void path;
  void reportPath;
  throw new CliError(exitCodes.badInput, 'NOT_AVAILABLE', 'proof verification is not available in this build (src/eod/proof is missing)');
}

import { verifyProofFile } from '../eod/proof/verify-proof.js';
import { CliError, exitCodes } from './exit-codes.js';

/**
 * The offline verifiers of the sealed report chain and of a user's proof, as the CLI shows
 * them. The checks live with the close (src/eod/report, src/eod/proof).
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
  const verdict = await verifyProofFile(path, reportPath === undefined ? {} : { reportPath });
  const file = reportPath ? `${path} against ${reportPath}` : path;
  if (!verdict.ok) return { ok: false, checked: [{ file, ok: false, detail: verdict.reason }], firstFailure: `${path}: ${verdict.reason}` };
  const detail = `root ${verdict.rootHash}, total ${verdict.total}${verdict.checkedAgainstReport ? ', as in the report' : ' (not checked against a report: add --report)'}`;
  return { ok: true, checked: [{ file, ok: true, detail }], firstFailure: null };
}

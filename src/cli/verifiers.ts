import { verifyProofFile } from '../eod/proof/verify-proof.js';
import { verifyProofWithReportFile, verifyReportFiles } from '../eod/report/index.js';

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

/** Each report's hash and signature, and the prevSha256 chain between consecutive days. */
export async function verifyReports(paths: string[], trustedPublicKeys?: string[]): Promise<VerificationOutcome> {
  const verdict = await verifyReportFiles(paths, trustedPublicKeys ? { trustedPublicKeys } : {});
  if (verdict.ok) {
    return { ok: true, checked: [{ file: paths.join(', '), ok: true, detail: `${verdict.days.length} day(s) chained: ${verdict.days.join(', ')}` }], firstFailure: null };
  }
  const failure = verdict.firstFailure;
  const file = failure.path ?? paths[failure.index] ?? '(none)';
  const named = `${file}${failure.date ? ` (${failure.date})` : ''}: ${failure.reason}${failure.missingDate ? ` (no report for ${failure.missingDate})` : ''}`;
  return { ok: false, checked: [{ file, ok: false, detail: `${failure.date ? `${failure.date}: ` : ''}${failure.reason}` }], firstFailure: named };
}

/** The root recomputed from the proof; with a report, the report's seal and its root and total too. */
export async function verifyProof(path: string, reportPath?: string): Promise<VerificationOutcome> {
  const verdict = reportPath === undefined ? await verifyProofFile(path) : await verifyProofWithReportFile(path, reportPath);
  const file = reportPath ? `${path} against ${reportPath}` : path;
  if (!verdict.ok) return { ok: false, checked: [{ file, ok: false, detail: verdict.reason }], firstFailure: `${path}: ${verdict.reason}` };
  const detail = `root ${verdict.rootHash}, total ${verdict.total}${verdict.checkedAgainstReport ? ', as in the signed report' : ' (not checked against a report: add --report)'}`;
  return { ok: true, checked: [{ file, ok: true, detail }], firstFailure: null };
}

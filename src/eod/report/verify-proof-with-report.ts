import { readJsonFile, verifyProof, type ProofVerdict } from '../proof/verify-proof.js';
import { verifySealedReport, type ChainOptions } from './verify-report.js';

/**
 * `recon proof verify <proof> --report <report>` in full: the report's own seal (JCS hash,
 * Ed25519 signature, optionally a trusted key), then the proof against that report's root and
 * total. The proof verifier alone checks only the root and total, not who signed them.
 */
export async function verifyProofWithReportFile(proofPath: string, reportPath: string, options: Pick<ChainOptions, 'trustedPublicKeys'> = {}): Promise<ProofVerdict> {
  const [proof, report] = [await readJsonFile(proofPath), await readJsonFile(reportPath)];
  if (!proof.ok) return proof;
  if (!report.ok) return report;
  const seal = verifySealedReport(report.value);
  if (!seal.ok) return { ok: false, reason: `${reportPath}: ${seal.reason}` };
  const publicKey = (report.value as { publicKey: string }).publicKey;
  if (options.trustedPublicKeys && !options.trustedPublicKeys.includes(publicKey)) {
    return { ok: false, reason: `${reportPath}: signed by ${publicKey}, which is not a trusted key` };
  }
  return verifyProof(proof.value, { report: report.value });
}

export { canonicalReportBytes, canonicalReportText, sha256Hex } from './canonical.js';
export { renderReportHtml, escapeHtml } from './render-html.js';
export {
  eodBreakSchema,
  eodCutSchema,
  eodInFlightSchema,
  eodLiabilitySchema,
  eodReportSchema,
  eodStepNames,
  eodStepReportSchema,
  eodStepStatuses,
  sealedReportSchema,
} from './report-schema.js';
export type { EodBreak, EodCut, EodInFlight, EodLiability, EodReport, EodStepName, EodStepReport, EodStepStatus, SealedReport } from './report-schema.js';
export { sealReport, sealReportDocument } from './seal-report.js';
export type { ReportSeal } from './seal-report.js';
export { loadOrCreateSigningKey, loadSigningKey, publicKeyHex, SigningKeyError } from './signing-key.js';
export { verifyReportChain, verifyReportFiles, verifySealedReport } from './verify-report.js';
export type { ChainFailure, ChainOptions, ChainVerdict, ReportVerdict } from './verify-report.js';
export { verifyProofWithReportFile } from './verify-proof-with-report.js';

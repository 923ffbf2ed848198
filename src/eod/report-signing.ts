import { createHash, createHmac, type KeyObject } from 'node:crypto';
import { loadOrCreateSigningKey, loadSigningKey, publicKeyHex, sealReport, type EodReport, type ReportSeal } from './report/index.js';

export type { ReportSeal };

/** The close's signer: seals reports (src/eod/report) and derives the salts' secret from the same key. */
export interface ReportSigner {
  readonly publicKey: string;
  seal(report: EodReport): ReportSeal;
  /** A secret derived from the private key: the salts' seeds come from it (never published, never logged). */
  readonly saltSecret: Uint8Array;
}

function signerOf(key: KeyObject): ReportSigner {
  const der = new Uint8Array(key.export({ format: 'der', type: 'pkcs8' }));
  const saltSecret = new Uint8Array(createHash('sha256').update('recon-eod/salt-secret/').update(der).digest());
  return { publicKey: publicKeyHex(key), saltSecret, seal: (report) => sealReport(report, key) };
}

/** The PEM (PKCS#8) Ed25519 key at `file`; with `create`, generated there (0600) when absent. */
export function loadReportSigner(file: string, options: { create: boolean }): ReportSigner {
  return signerOf(options.create ? loadOrCreateSigningKey(file).key : loadSigningKey(file));
}

/**
 * The per-(date, currency) seed a tree's salts and padding come from: HMAC-SHA-256(saltSecret,
 * date/currency). Deterministic, so a step re-done after a crash or a failover builds the same
 * tree and the report seals the same bytes; unlinkable across days without the key (ADR 0016).
 */
export function saltSeedOf(saltSecret: Uint8Array, date: string, currency: string): Uint8Array {
  return createHmac('sha256', saltSecret).update(`recon-eod/salt-seed/${date}/${currency}`, 'utf8').digest() as unknown as Uint8Array;
}

import { createHash, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import canonicalize from 'canonicalize';

/**
 * Signing the sealed report (DESIGN.md §7): SHA-256 and Ed25519 over the RFC 8785 (JCS)
 * bytes. Interim: helper A's src/eod/report (sealReport, loadOrCreateSigningKey) replaces the
 * body of this module when it lands; the interface stays.
 */
export interface ReportSeal {
  sha256: string;
  signature: string;
  publicKey: string;
}

export interface ReportSigner {
  readonly publicKey: string;
  seal(report: unknown): ReportSeal;
  /** A secret derived from the private key: the salts' seeds come from it (never published). */
  readonly saltSecret: Uint8Array;
}

export function canonicalReportBytes(report: unknown): Buffer {
  const text = canonicalize(report);
  if (text === undefined) throw new Error('the report has no JCS encoding');
  return Buffer.from(text, 'utf8');
}

function signerOf(privateKey: KeyObject): ReportSigner {
  const raw = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = raw.subarray(raw.length - 32).toString('hex');
  const der = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }));
  const saltSecret = new Uint8Array(createHash('sha256').update('recon-eod/salt-secret/').update(der).digest());
  return {
    publicKey,
    saltSecret,
    seal(report) {
      const bytes = new Uint8Array(canonicalReportBytes(report));
      return { sha256: createHash('sha256').update(bytes).digest('hex'), signature: sign(null, bytes, privateKey).toString('hex'), publicKey };
    },
  };
}

/** Reads the PEM (PKCS#8) Ed25519 key at `file`; with `create`, generates one there (mode 0600) when absent. */
export async function loadReportSigner(file: string, options: { create: boolean }): Promise<ReportSigner> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !options.create) throw new Error(`EOD_SIGNING_KEY_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    const { privateKey } = generateKeyPairSync('ed25519');
    pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, pem, { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
      pem = await readFile(file, 'utf8'); // another instance made it first
    });
  }
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`EOD_SIGNING_KEY_FILE: ${file} is a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
  return signerOf(key);
}

/** The per-(date, currency) seed the salts of that tree come from: HMAC-SHA-256(saltSecret, date/currency). */
export function saltSeedOf(saltSecret: Uint8Array, date: string, currency: string): Uint8Array {
  return createHmac('sha256', saltSecret).update(`recon-eod/salt-seed/${date}/${currency}`, 'utf8').digest() as unknown as Uint8Array;
}

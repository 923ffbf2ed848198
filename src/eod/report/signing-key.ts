import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The report's Ed25519 signing key: a PKCS#8 PEM as `openssl genpkey -algorithm ed25519`
 * writes it, named by EOD_SIGNING_KEY_FILE. Errors name the file and the setting, never the
 * key's bytes; a KeyObject prints as `PrivateKeyObject { asymmetricKeyType: 'ed25519' }`, so
 * logging one by mistake leaks nothing.
 */

const setting = 'EOD_SIGNING_KEY_FILE';
const pkcs8Header = '-----BEGIN PRIVATE KEY-----';

export class SigningKeyError extends Error {
  /** The file system error code when the file could not be read (ENOENT: absent). */
  readonly fsCode: string | undefined;

  constructor(message: string, fsCode?: string) {
    super(message);
    this.name = 'SigningKeyError';
    this.fsCode = fsCode;
  }
}

export function loadSigningKey(pemPath: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(pemPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new SigningKeyError(`${setting}: cannot read the signing key file ${pemPath} (${code})`, code);
  }
  if (!pem.includes(pkcs8Header)) {
    throw new SigningKeyError(`${setting}: ${pemPath} is not a PKCS#8 PEM private key (expected "${pkcs8Header}", as openssl genpkey -algorithm ed25519 writes)`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new SigningKeyError(`${setting}: ${pemPath} does not hold a readable PKCS#8 private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(`${setting}: ${pemPath} holds a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519 (create one with openssl genpkey -algorithm ed25519)`);
  }
  return key;
}

/**
 * The embedded default: loads the key at `pemPath`, or creates it there (directory 0700, file
 * 0600, exclusive create so two instances starting together keep one key) when it is absent.
 */
export function loadOrCreateSigningKey(pemPath: string): { key: KeyObject; created: boolean } {
  try {
    return { key: loadSigningKey(pemPath), created: false };
  } catch (error) {
    if (!(error instanceof SigningKeyError) || error.fsCode !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(pemPath), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  try {
    writeFileSync(pemPath, pem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { key: loadSigningKey(pemPath), created: false };
    throw new SigningKeyError(`${setting}: cannot create the signing key file ${pemPath} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return { key: privateKey, created: true };
}

/** Lowercase hex of the raw 32-byte Ed25519 public key (of a private or public KeyObject). */
export function publicKeyHex(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`not an Ed25519 key: ${publicKey.asymmetricKeyType ?? 'unknown'}`);
  const { x } = publicKey.export({ format: 'jwk' });
  if (typeof x !== 'string') throw new SigningKeyError('the Ed25519 public key has no x coordinate');
  return Buffer.from(x, 'base64url').toString('hex');
}

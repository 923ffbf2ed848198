import type { AdminClient } from './admin-client.js';
import type { VerificationOutcome } from './verifiers.js';

/**
 * The heavy parts of the CLI (the NATS client, the verifiers, the engine) load when a command
 * runs, not when `recon --help` parses: each call is a process, and start-up is most of it.
 */
export async function withAdmin<T>(work: (admin: AdminClient) => Promise<T>): Promise<T> {
  return (await import('./admin-client.js')).withAdmin(work);
}

export async function verifyReports(paths: string[], trustedPublicKeys?: string[]): Promise<VerificationOutcome> {
  return (await import('./verifiers.js')).verifyReports(paths, trustedPublicKeys);
}

export async function verifyProof(path: string, reportPath?: string): Promise<VerificationOutcome> {
  return (await import('./verifiers.js')).verifyProof(path, reportPath);
}

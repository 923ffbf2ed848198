/**
 * A service named by a setting cannot be reached or refuses us. The message is the one line an
 * operator sees: the service, its URL (password hidden), the setting that points at it, why.
 */
export class ServiceUnreachableError extends Error {}

/** A service URL fit for a log or a message: any password in it is hidden. */
export function redactUrl(url: string): string {
  return url.replace(/:[^:@/]*@/, ':***@');
}

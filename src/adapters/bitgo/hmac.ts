import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * BitGo's v2 request signing, as @bitgo/sdk-hmac 1.9.0 implements it (see docs/bitgo-custody.md).
 * The SDK signs and verifies on the client side; this module is the server side, used by the
 * simulator, and a test holds the two to the same bytes.
 *
 *   request:  Authorization: Bearer sha256hex(token), Auth-Timestamp: <ms>, BitGo-Auth-Version: 2.0,
 *             HMAC: hmacSha256hex(token, `${timestamp}|${pathWithQuery}|${body}`)
 *   response: timestamp: <ms>, hmac: hmacSha256hex(token, `${timestamp}|${pathWithQuery}|${status}|${body}`)
 *
 * `pathWithQuery` is the URL's path with its query string when there is one, else the bare path.
 */

export function tokenHashHex(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function requestHmacSubject(p: { timestamp: string | number; pathWithQuery: string; body: string }): string {
  return `${p.timestamp}|${p.pathWithQuery}|${p.body}`;
}

export function responseHmacSubject(p: { timestamp: string | number; pathWithQuery: string; status: number; body: string }): string {
  return `${p.timestamp}|${p.pathWithQuery}|${p.status}|${p.body}`;
}

export function hmacSha256Hex(token: string, subject: string): string {
  return createHmac('sha256', token).update(subject, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex digests. */
export function sameHex(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * What the SDK hashes as the path: `url.parse(u).path` when there is a query, else `.pathname`.
 * Takes a request target as a server receives it (`/api/v2/…?…`), byte for byte, unnormalised.
 */
export function pathWithQueryOf(requestTarget: string): string {
  const q = requestTarget.indexOf('?');
  if (q === -1) return requestTarget;
  return q === requestTarget.length - 1 ? requestTarget.slice(0, q) : requestTarget;
}

/**
 * The SDK signs with v2 (token hash + HMAC) only for tokens of 67 characters or starting with
 * `v2x`; any other token is sent as a plain bearer token and no response is verified.
 */
export function isV2AccessToken(token: string): boolean {
  return token.length === 67 || token.startsWith('v2x');
}

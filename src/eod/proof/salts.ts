import { createHmac, randomBytes } from 'node:crypto';
import { bytesOf, type Bytes } from './merkle-sum-hash.js';

/** Every salt (user or padding) is 32 bytes (docs/contract.md §10). */
export const saltBytes = 32;

/** A fresh 32-byte salt for one (user, date, currency). */
export function generateSalt(): Uint8Array {
  return bytesOf(randomBytes(saltBytes));
}

const seedBytesMin = 32;

function assertSeed(seed: Bytes): void {
  if (seed.length < seedBytesMin) throw new RangeError(`salt seed must be at least ${seedBytesMin} bytes, got ${seed.length}`);
}

/**
 * Padding salts derived from one secret per-(date, currency) seed, so a stored seed is enough
 * to rebuild the identical tree later: paddingSalt(level) = HMAC-SHA-256(key = seed,
 * message = utf8("recon-eod/padding-salt/" + level)), level 0 being the leaves.
 */
export function paddingSaltsFromSeed(seed: Bytes): (level: number) => Uint8Array {
  assertSeed(seed);
  const key = Uint8Array.from(bytesOf(seed));
  return (level: number) => {
    if (!Number.isSafeInteger(level) || level < 0) throw new RangeError(`padding level must be a non-negative integer, got ${level}`);
    return bytesOf(createHmac('sha256', key).update(`recon-eod/padding-salt/${level}`, 'utf8').digest());
  };
}

/**
 * A user's salt derived from the same per-(date, currency) seed, for callers that would rather
 * keep one seed than one salt per row: HMAC-SHA-256(key = seed, message = utf8("recon-eod/user-salt/" + userId)).
 * The seed is then as secret as every salt it yields; a new seed per (date, currency) keeps days unlinkable.
 */
export function userSaltFromSeed(seed: Bytes, userId: string): Uint8Array {
  assertSeed(seed);
  return bytesOf(createHmac('sha256', bytesOf(seed)).update(`recon-eod/user-salt/${userId}`, 'utf8').digest());
}

import { createHash } from 'node:crypto';

/**
 * docs/contract.md §10 written out a second time, in the plainest form (hex strings, no Buffers), so
 * tests can check the builder and the verifier against the text rather than against each other.
 */

export interface ModelLeaf {
  userId: string;
  balanceMinor: bigint;
  saltHex: string;
}

const sha256Hex = (hex: string): string => createHash('sha256').update(hex, 'hex').digest('hex');
const u128Hex = (value: bigint): string => value.toString(16).padStart(32, '0');
const utf8Hex = (text: string): string => Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('');

export const modelCommitment = (saltHex: string, userId: string): string => sha256Hex(saltHex + utf8Hex(userId));
export const modelLeafHash = (saltHex: string, userId: string, balance: bigint): string =>
  sha256Hex(`00${modelCommitment(saltHex, userId)}${u128Hex(balance)}`);
export const modelNodeHash = (l: string, ls: bigint, r: string, rs: bigint): string =>
  sha256Hex(`01${l}${u128Hex(ls)}${r}${u128Hex(rs)}`);

/** Root, total and, per level, which padding salts were used (level → salt hex). */
export function modelRoot(leaves: ModelLeaf[], paddingSaltHex: (level: number) => string): { rootHash: string; total: bigint; paddedLevels: number[] } {
  const ordered = [...leaves].sort((a, b) => {
    const ca = modelCommitment(a.saltHex, a.userId);
    const cb = modelCommitment(b.saltHex, b.userId);
    return ca < cb ? -1 : ca > cb ? 1 : 0;
  });
  let level: { hash: string; sum: bigint }[] = ordered.map((l) => ({ hash: modelLeafHash(l.saltHex, l.userId, l.balanceMinor), sum: l.balanceMinor }));
  const paddedLevels: number[] = [];
  for (let k = 0; level.length > 1; k += 1) {
    if (level.length % 2 === 1) {
      level.push({ hash: modelLeafHash(paddingSaltHex(k), '', 0n), sum: 0n });
      paddedLevels.push(k);
    }
    const next: { hash: string; sum: bigint }[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const l = level[i]!;
      const r = level[i + 1]!;
      next.push({ hash: modelNodeHash(l.hash, l.sum, r.hash, r.sum), sum: l.sum + r.sum });
    }
    level = next;
  }
  return { rootHash: level[0]!.hash, total: level[0]!.sum, paddedLevels };
}

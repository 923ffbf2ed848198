/**
 * The command partition of an account: FNV-1a (32 bit) of the userId mod the
 * partition count. Stable across processes and versions: senders compute it.
 */
export function partitionOf(userId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    hash ^= userId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

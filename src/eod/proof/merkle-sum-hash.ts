import { createHash } from 'node:crypto';

/**
 * The hash rules of docs/contract.md §10, on the builder's side. The standalone verifier
 * (verify-proof.ts) carries its own copy on purpose: users copy that one file.
 */

/** Sums and balances are u128: anything at or above this is refused. */
export const u128Limit = 1n << 128n;

const leafPrefix = 0x00;
const nodePrefix = 0x01;
const hashBytes = 32;
const u128Bytes = 16;
const mask64 = (1n << 64n) - 1n;

/** Writes `value` (0 ≤ value < 2^128) as 16 bytes big-endian at `offset`. */
function writeU128be(view: DataView, value: bigint, offset: number): void {
  if (value < 0n || value >= u128Limit) throw new RangeError(`${value} is outside u128`);
  view.setBigUint64(offset, value >> 64n);
  view.setBigUint64(offset + 8, value & mask64);
}

/**
 * Salts may arrive as Buffers (a bytea column); with this project's @types/node a Buffer does
 * not type as a Uint8Array, so the API takes either and works on a Uint8Array view of it.
 */
export type Bytes = Uint8Array | Buffer;

export const bytesOf = (bytes: Bytes): Uint8Array => new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);

const sha256 = (input: Uint8Array): Uint8Array => bytesOf(createHash('sha256').update(input).digest());

/** The user's commitment: SHA-256(salt ‖ utf8(userId)). Also the leaf order key. */
export function userCommitment(salt: Bytes, userId: string): Uint8Array {
  return bytesOf(createHash('sha256').update(bytesOf(salt)).update(userId, 'utf8').digest());
}

// One scratch input per hash kind: update() copies it, so reusing it between calls is safe (and saves two allocations a node).
const leafInput = new Uint8Array(1 + hashBytes + u128Bytes);
const nodeInput = new Uint8Array(1 + 2 * (hashBytes + u128Bytes));
const leafView = new DataView(leafInput.buffer);
const nodeView = new DataView(nodeInput.buffer);
leafInput[0] = leafPrefix;
nodeInput[0] = nodePrefix;

/** leaf hash = SHA-256(0x00 ‖ commitment ‖ u128be(balance)). */
export function leafHash(commitment: Uint8Array, balanceMinor: bigint): Uint8Array {
  leafInput.set(commitment, 1);
  writeU128be(leafView, balanceMinor, 1 + hashBytes);
  return sha256(leafInput);
}

/** node hash = SHA-256(0x01 ‖ leftHash ‖ u128be(leftSum) ‖ rightHash ‖ u128be(rightSum)). */
export function nodeHash(leftHash: Uint8Array, leftSum: bigint, rightHash: Uint8Array, rightSum: bigint): Uint8Array {
  nodeInput.set(leftHash, 1);
  writeU128be(nodeView, leftSum, 1 + hashBytes);
  nodeInput.set(rightHash, 1 + hashBytes + u128Bytes);
  writeU128be(nodeView, rightSum, 1 + 2 * hashBytes + u128Bytes);
  return sha256(nodeInput);
}

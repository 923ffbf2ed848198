import { z } from 'zod';

/**
 * Every value that comes back from the JSON-RPC node is parsed here before it is used:
 * a malformed answer is a ChainValueError (the node is not trustworthy right now), never a
 * number that slips into a comparison. Hashes and addresses are lower-cased.
 */

export class ChainValueError extends Error {}

const quantity = z.string().regex(/^0x[0-9a-fA-F]{1,64}$/, 'not a hex quantity').transform((hex) => BigInt(hex));

export const blockNumberSchema = quantity.refine((n) => n <= BigInt(Number.MAX_SAFE_INTEGER), 'block number out of range').transform(Number);
export const chainIdSchema = quantity;
export const hash32Schema = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'not a 32-byte hash').transform((h) => h.toLowerCase());
export const addressSchema = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'not a 20-byte address').transform((a) => a.toLowerCase());
export const hexDataSchema = z.string().regex(/^0x([0-9a-fA-F]{2})*$/, 'not hex data');

const uint256Max = (1n << 256n) - 1n;
export const uint256Schema = z.bigint().min(0n).max(uint256Max);

export const rpcBlockSchema = z.object({
  number: blockNumberSchema,
  hash: hash32Schema,
  parentHash: hash32Schema,
});
export type BlockRef = z.infer<typeof rpcBlockSchema>;

export const rpcLogSchema = z.object({
  address: addressSchema,
  topics: z.array(hash32Schema).max(4),
  data: hexDataSchema,
  blockNumber: blockNumberSchema,
  blockHash: hash32Schema,
  transactionHash: hash32Schema,
  logIndex: blockNumberSchema,
  removed: z.boolean().optional(),
});
export type RpcLog = z.infer<typeof rpcLogSchema>;

/** Parses `value` or throws ChainValueError naming what was being read. */
export function parseChainValue<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ChainValueError(`${what}: ${issue ? `${issue.path.join('.') || 'value'}: ${issue.message}` : 'invalid'} (got ${preview(value)})`);
  }
  return result.data;
}

function preview(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

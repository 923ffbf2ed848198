import { z } from 'zod';
import { baseUnitsToLedgerMinor } from './coin-decimals.js';

/** An integer amount in the coin's base units, as BitGo sends it: a string, never the float `balance`. */
const baseUnitsString = z.string().regex(/^-?\d{1,60}$/, 'expected an integer string of base units');

/**
 * The fields of `GET /api/v2/{coin}/wallet/{id}` the reconciler relies on. BitGo also sends
 * `balance`, `confirmedBalance`, `spendableBalance` as JSON numbers: they lose precision above
 * 2^53 base units (0.009 ETH in wei) and are ignored. Unknown fields pass through untouched.
 */
export const walletResponseSchema = z.looseObject({
  id: z.string().min(1),
  coin: z.string().min(1),
  label: z.string().optional(),
  balanceString: baseUnitsString,
  confirmedBalanceString: baseUnitsString,
  spendableBalanceString: baseUnitsString,
});

/** One wallet as read at one moment: base units as BitGo reports them, and in ledger minor units. */
export interface WalletReading {
  coin: string;
  walletId: string;
  label: string | null;
  balanceBase: bigint;
  confirmedBase: bigint;
  spendableBase: bigint;
  /** The same three amounts at the ledger's 18 decimals. */
  balanceMinor: bigint;
  confirmedMinor: bigint;
  spendableMinor: bigint;
  polledAtMs: number;
}

export type WalletParseResult = { ok: true; reading: WalletReading } | { ok: false; reason: string };

/** Validates a wallet response for the wallet that was asked for (coin and id must match). */
export function parseWalletResponse(body: unknown, expected: { coin: string; walletId: string }, polledAtMs: number): WalletParseResult {
  const parsed = walletResponseSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `wallet response: ${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid'}` };
  }
  const w = parsed.data;
  if (w.id !== expected.walletId || w.coin !== expected.coin) {
    return { ok: false, reason: `wallet response is for ${w.coin}:${w.id}, asked for ${expected.coin}:${expected.walletId}` };
  }
  const balanceBase = BigInt(w.balanceString);
  const confirmedBase = BigInt(w.confirmedBalanceString);
  const spendableBase = BigInt(w.spendableBalanceString);
  if (balanceBase < 0n || confirmedBase < 0n || spendableBase < 0n) return { ok: false, reason: 'wallet response: negative balance' };
  return {
    ok: true,
    reading: {
      coin: w.coin,
      walletId: w.id,
      label: w.label ?? null,
      balanceBase,
      confirmedBase,
      spendableBase,
      balanceMinor: baseUnitsToLedgerMinor(balanceBase, w.coin),
      confirmedMinor: baseUnitsToLedgerMinor(confirmedBase, w.coin),
      spendableMinor: baseUnitsToLedgerMinor(spendableBase, w.coin),
      polledAtMs,
    },
  };
}

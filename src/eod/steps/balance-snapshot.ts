import { minorToDecimal } from '../../config/decimal.js';
import type { PoolClient } from '../../db/pool.js';
import { buildMerkleSumTree, NegativeBalanceError, paddingSaltsFromSeed, userSaltFromSeed } from '../proof/index.js';
import { breakKinds } from '../../recon/breaks/break-kinds.js';
import { meDbBoundary } from '../../recon/me-db/checkpoint.js';
import { keyOf, moneyScale, type EngineCut, type LedgerCut } from '../cut-balances.js';
import { cutSides, isHouseAccount } from './cut-sides.js';
import { EodStepFailure, type CutBreak, type EodStep, type EodStepContext, type EodStepResult, type JsonObject } from './step.js';

const rowsPerInsertMax = 5_000;
/** Negative balances named in the step's error (all of them are breaks). */
const negativesNamedMax = 5;
const whole = (m: bigint): string => minorToDecimal(m, moneyScale);

interface CurrencyRoot {
  currency: string;
  rootHash: string;
  totalMinor: bigint;
  leafCount: number;
  seed: Uint8Array;
}

/**
 * Step 1: every user's balance at the cut (the engine side) into user_balance_snapshots, one
 * Merkle-sum tree per currency (docs/contract.md §10) whose root goes to proof_of_reserves. The root
 * is tied to the ledger close: its total must equal the ledger's Σ user balances at the cut.
 */
export const balanceSnapshotStep: EodStep = {
  name: 'balance_snapshot',
  skipReason: () => null,
  // me_db owns user balances (both sides of them); its reconciler lists and pages these with its own (ADR 0029).
  failureBreaks: { boundary: meDbBoundary, kinds: [breakKinds.negativeBalance] },
  async run(context) {
    const { engine, ledger } = await cutSides(context);
    const negatives = negativeBalancesAtCut(engine, ledger);
    if (negatives.breaks.length > 0) {
      const more = negatives.messages.length - negativesNamedMax;
      throw new EodStepFailure(
        `${negatives.messages.slice(0, negativesNamedMax).join('; ')}${more > 0 ? `; and ${more} more` : ''} (${negatives.breaks.length} negative_balance break(s) on ${meDbBoundary})`,
        negatives.breaks);
    }
    try {
      return await snapshotAtCut(context, engine, ledger);
    } catch (error) {
      // Failing past this point, the cut showed no negative balance: the date's earlier negative_balance breaks resolve.
      if (error instanceof EodStepFailure && error.breaks === undefined) throw new EodStepFailure(error.message, []);
      throw error;
    }
  },
};

/** The snapshot rows, one tree per currency and their roots, tied to the ledger's Σ user balances (no balance is negative here). */
async function snapshotAtCut(context: EodStepContext, engine: EngineCut, ledger: LedgerCut): Promise<EodStepResult> {
  const ledgerUserTotals = new Map<string, bigint>();
  for (const b of ledger.balances.values()) {
    if (isHouseAccount(b.account)) continue;
    ledgerUserTotals.set(b.currency, (ledgerUserTotals.get(b.currency) ?? 0n) + b.totalMinor);
  }
  const byCurrency = new Map<string, Array<{ userId: string; balanceMinor: bigint }>>();
  for (const b of engine.balances.values()) {
    const list = byCurrency.get(b.currency) ?? [];
    list.push({ userId: b.userId, balanceMinor: b.totalMinor });
    byCurrency.set(b.currency, list);
  }
  const roots: CurrencyRoot[] = [];
  const salts = new Map<string, Uint8Array>();
  for (const currency of [...new Set([...byCurrency.keys(), ...ledgerUserTotals.keys()])].sort()) {
    if (context.signal.aborted) throw new EodStepFailure('timed out while building the trees');
    const users = byCurrency.get(currency) ?? [];
    const ledgerTotal = ledgerUserTotals.get(currency) ?? 0n;
    if (users.length === 0) throw new EodStepFailure(`${currency}: the ledger holds ${whole(ledgerTotal)} for users but the engine has no balance at the cut`);
    const seed = context.saltSeed(currency);
    const leaves = users.map((u) => {
      const salt = userSaltFromSeed(seed, u.userId);
      salts.set(`${u.userId}/${currency}`, salt);
      return { ...u, salt };
    });
    let tree;
    try {
      tree = buildMerkleSumTree(leaves, { paddingSalt: paddingSaltsFromSeed(seed) });
    } catch (error) {
      if (error instanceof NegativeBalanceError) throw new EodStepFailure(`${error.message} (${currency})`);
      throw error;
    }
    const snapshotTotal = users.reduce((sum, u) => sum + u.balanceMinor, 0n);
    if (tree.totalMinor !== snapshotTotal) throw new EodStepFailure(`${currency}: root total ${whole(tree.totalMinor)} ≠ Σ snapshot balances ${whole(snapshotTotal)}`);
    if (tree.totalMinor !== ledgerTotal) {
      throw new EodStepFailure(`${currency}: root total ${whole(tree.totalMinor)} ≠ the ledger's Σ user balances at the cut ${whole(ledgerTotal)} (a me_db difference at the cut; see recon_me_db)`);
    }
    roots.push({ currency, rootHash: tree.rootHash, totalMinor: tree.totalMinor, leafCount: tree.leafCount, seed });
  }
  const figures: JsonObject = {
    engineSeq: engine.seq,
    ledgerLastId: ledger.lastId,
    ledgerRowsInWindow: ledger.windowRows,
    users: new Set([...engine.balances.values()].map((b) => b.userId)).size,
    rows: engine.balances.size,
    liabilities: roots.map((r) => ({ currency: r.currency, rootHash: r.rootHash, total: whole(r.totalMinor), leafCount: r.leafCount })),
  };
  return {
    figures,
    async write(client: PoolClient) {
      const rows = [...engine.balances.values()];
      for (let i = 0; i < rows.length; i += rowsPerInsertMax) {
        const slice = rows.slice(i, i + rowsPerInsertMax);
        await client.query(
          `INSERT INTO user_balance_snapshots (business_date, user_id, currency, total, locked, available, engine_seq, salt)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::numeric[], $7::bigint[], $8::bytea[])`,
          [context.date, slice.map((r) => r.userId), slice.map((r) => r.currency), slice.map((r) => whole(r.totalMinor)),
            slice.map((r) => whole(r.lockedMinor)), slice.map((r) => whole(r.availableMinor)), slice.map((r) => String(r.seq)),
            slice.map((r) => Buffer.from(salts.get(`${r.userId}/${r.currency}`) as Uint8Array))],
        );
      }
      const accounts = [...ledger.balances.values()];
      for (let i = 0; i < accounts.length; i += rowsPerInsertMax) {
        const slice = accounts.slice(i, i + rowsPerInsertMax);
        await client.query(
          `INSERT INTO eod_ledger_balances (business_date, account, currency, total)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::numeric[])`,
          [context.date, slice.map((a) => a.account), slice.map((a) => a.currency), slice.map((a) => whole(a.totalMinor))],
        );
      }
      for (const r of roots) {
        await client.query(
          'INSERT INTO proof_of_reserves (business_date, currency, root_hash, total, leaf_count, padding_seed) VALUES ($1, $2, $3, $4, $5, $6)',
          [context.date, r.currency, r.rootHash, whole(r.totalMinor), r.leafCount, Buffer.from(r.seed)],
        );
      }
    },
  };
}

/**
 * Every user balance below zero at the cut, either side: one break per (user, currency) with
 * both sides' totals (left the engine's, right the ledger's, 0 where a side has no row), and
 * one message per negative side, ledger first.
 */
function negativeBalancesAtCut(engine: EngineCut, ledger: LedgerCut): { breaks: CutBreak[]; messages: string[] } {
  const messages: string[] = [];
  const negative = new Map<string, { userId: string; currency: string; sides: string[] }>();
  const mark = (userId: string, currency: string, side: string, totalMinor: bigint): void => {
    const key = keyOf(userId, currency);
    const entry = negative.get(key) ?? { userId, currency, sides: [] };
    entry.sides.push(`${side} ${whole(totalMinor)}`);
    negative.set(key, entry);
  };
  for (const b of ledger.balances.values()) {
    if (isHouseAccount(b.account) || b.totalMinor >= 0n) continue;
    messages.push(`user ${b.account} has a negative ledger balance in ${b.currency} (${whole(b.totalMinor)}): never a leaf`);
    mark(b.account, b.currency, 'ledger', b.totalMinor);
  }
  for (const b of engine.balances.values()) {
    if (b.totalMinor >= 0n) continue;
    messages.push(`user ${b.userId} has a negative balance in ${b.currency} (${whole(b.totalMinor)}): never a leaf`);
    mark(b.userId, b.currency, 'engine', b.totalMinor);
  }
  const breaks = [...negative.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, n]): CutBreak => {
    const leftMinor = engine.balances.get(key)?.totalMinor ?? 0n;
    const rightMinor = ledger.balances.get(key)?.totalMinor ?? 0n;
    return {
      boundary: meDbBoundary, kind: breakKinds.negativeBalance, userId: n.userId, currency: n.currency,
      left: whole(leftMinor), right: whole(rightMinor), delta: whole(leftMinor - rightMinor),
      detail: `negative at the cut (${n.sides.join(', ')}): never a proof-of-liabilities leaf; balance_snapshot fails until it is not`,
    };
  });
  return { breaks, messages };
}

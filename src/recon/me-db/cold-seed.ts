import type { NatsConnection } from '@nats-io/nats-core';
import { readLedgerSeed, type LedgerSeed, type UnbalancedJournal } from '../../adapters/ledger/ledger-seed.js';
import type { BalanceRow } from '../../adapters/matching-engine/contract.js';
import { requestSnapshot, SnapshotError } from '../../adapters/matching-engine/snapshot-client.js';
import type { Pool } from '../../db/pool.js';
import type { NatsNames } from '../../nats/names.js';
import { keyOf } from './positions.js';

/**
 * A first start (no checkpoint) with history on both sides: instead of replaying the balance
 * stream and every ledger row one by one, each side is read as a set at its own watermark (ADR
 * 0025): the engine's snapshot at its asOfSeq, the ledger's Σ per (account, currency) at the
 * horizon the follower would reach. Both are then followed from there as usual.
 */
export interface ColdSeed {
  /**
   * null: no snapshot (the engine did not answer); the balance stream is read from its start.
   * `streamStartSeq`: the stream seq of the first event past asOfSeq (null: not found, read from the start).
   */
  engine: { asOfSeq: number; balances: Map<string, BalanceRow>; streamStartSeq: number | null } | null;
  engineUnavailable: SnapshotError | null;
  ledger: LedgerSeed;
  /** When the ledger seed's snapshot was taken (at the latest): the ledger is complete up to then. */
  ledgerReadStartedMs: number;
  /** How long each side took to read (they are read at once). */
  engineReadMs: number;
  ledgerReadMs: number;
}

export interface SeededPosition {
  userId: string;
  currency: string;
  engineTotalMinor: bigint;
  engineSeq: number;
  ledgerTotalMinor: bigint;
}

/**
 * Both sides at once: the snapshot is NATS and the engine's work, the seed is Postgres's.
 * `locate` (where the balance stream goes on past the snapshot) starts as soon as the first
 * chunk tells the snapshot's asOfSeq, while the rest of it arrives; it has ended, whatever
 * happened, when this returns.
 */
export async function takeColdSeed(deps: {
  nc: NatsConnection; names: NatsNames; pool: Pool; snapshotTimeoutMs: number; nowMs: () => number; locate: (asOfSeq: number) => Promise<number | null>;
}): Promise<ColdSeed> {
  const ledgerReadStartedMs = deps.nowMs();
  const t0 = performance.now();
  const took = async <T>(read: Promise<T>): Promise<{ value: T; ms: number }> => ({ value: await read, ms: performance.now() - t0 });
  const [{ value: snapshot, ms: engineReadMs }, { value: ledger, ms: ledgerReadMs }] = await Promise.all([
    took(readEngineSnapshot(deps)),
    took(readLedgerSeed(deps.pool)),
  ]);
  return {
    engineReadMs,
    ledgerReadMs,
    engine: snapshot.ok ? snapshot.engine : null,
    engineUnavailable: snapshot.ok ? null : snapshot.error,
    ledger,
    ledgerReadStartedMs,
  };
}

/** fetchSnapshot's collection (a (user, currency) listed twice is refused), with `locate` started at the first chunk. */
async function readEngineSnapshot(deps: { nc: NatsConnection; names: NatsNames; snapshotTimeoutMs: number; locate: (asOfSeq: number) => Promise<number | null> }):
  Promise<{ ok: true; engine: NonNullable<ColdSeed['engine']> } | { ok: false; error: SnapshotError }> {
  // By key (positions.ts keyOf): each key string is built once and reused by every map it goes
  // into, so its hash is computed once (a cold start handles every (user, currency) the engine has).
  const balances = new Map<string, BalanceRow>();
  let asOfSeq = 0;
  let located: Promise<number | null> | null = null;
  try {
    for await (const chunk of requestSnapshot(deps.nc, deps.names, { chunkSize: 1_000, timeoutMs: deps.snapshotTimeoutMs })) {
      if (!located) {
        located = deps.locate(chunk.asOfSeq);
        located.catch(() => undefined); // awaited below; never unhandled if the snapshot fails first
      }
      for (const row of chunk.balances) {
        const key = keyOf(row.userId, row.currency);
        if (balances.has(key)) throw new SnapshotError('INVALID_CHUNK', `snapshot ${chunk.requestId}: ${row.userId}/${row.currency} listed twice`);
        balances.set(key, row);
      }
      asOfSeq = chunk.asOfSeq;
    }
  } catch (error) {
    // `locate` may have acted (the caller recreates its consumer there): it ends before this returns.
    await located?.catch(() => undefined);
    if (error instanceof SnapshotError) return { ok: false, error };
    throw error;
  }
  return { ok: true, engine: { asOfSeq, balances, streamStartSeq: await (located ?? deps.locate(asOfSeq)) } };
}

/**
 * The positions the seed gives, one per (user, currency) either side knows. House accounts
 * live only in the ledger (they count in the currency totals, not here).
 */
export function seededPositions(seed: ColdSeed): Map<string, SeededPosition> {
  const positions = new Map<string, SeededPosition>();
  for (const [key, row] of seed.engine?.balances ?? []) {
    positions.set(key, {
      userId: row.userId, currency: row.currency, engineTotalMinor: row.totalMinor, engineSeq: seed.engine?.asOfSeq ?? 0, ledgerTotalMinor: 0n,
    });
  }
  for (const t of seed.ledger.totals) {
    if (t.userId.startsWith('house:')) continue;
    const key = keyOf(t.userId, t.currency);
    const p = positions.get(key);
    if (p) p.ledgerTotalMinor = t.totalMinor;
    else positions.set(key, { userId: t.userId, currency: t.currency, engineTotalMinor: 0n, engineSeq: 0, ledgerTotalMinor: t.totalMinor });
  }
  return positions;
}

/** Σ per currency over every ledger account, house accounts included (it must be zero). */
export function seededCurrencyTotals(seed: ColdSeed): Map<string, bigint> {
  const totals = new Map<string, bigint>();
  for (const t of seed.ledger.totals) totals.set(t.currency, (totals.get(t.currency) ?? 0n) + t.totalMinor);
  return totals;
}

/** Unbalanced journals in the shape judgeJournals takes (`txId:journalId` → currency → Σ). */
export function journalSumsOf(unbalanced: readonly UnbalancedJournal[]): Map<string, Map<string, bigint>> {
  const journals = new Map<string, Map<string, bigint>>();
  for (const j of unbalanced) {
    const key = `${j.txId}:${j.journalId}`;
    const sums = journals.get(key) ?? new Map<string, bigint>();
    sums.set(j.currency, j.sumMinor);
    journals.set(key, sums);
  }
  return journals;
}

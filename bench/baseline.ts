/**
 * The baseline: the reconciliation a team would otherwise run from cron. One full scan of the
 * ledger (`SELECT user_id, currency, sum(amount) FROM ledger_entries GROUP BY 1,2`) and one
 * engine snapshot (the `me.snapshot` protocol), compared key by key in code, plus the rule that
 * every currency sums to zero over all accounts (house accounts included).
 *
 * Its cost grows with the ledger's history: every run re-reads every row ever written.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { fetchSnapshot } from '../src/adapters/matching-engine/snapshot-client.js';
import { signedDecimalToMinor } from '../src/config/decimal.js';
import type { Pool } from '../src/db/pool.js';
import type { NatsNames } from '../src/nats/names.js';

export interface FullScanResult {
  totalMs: number;
  sqlMs: number;
  snapshotMs: number;
  compareMs: number;
  ledgerKeys: number;
  engineKeys: number;
  /** (user, currency) whose engine total differs from Σ ledger. */
  mismatches: Array<{ userId: string; currency: string; engineMinor: bigint; ledgerMinor: bigint }>;
  /** Currencies whose Σ over all accounts is not zero. */
  currenciesNonZero: string[];
}

const keyOf = (userId: string, currency: string): string => `${userId}\u0000${currency}`;

export async function fullScanReconcile(pool: Pool, nc: NatsConnection, names: NatsNames): Promise<FullScanResult> {
  // One after the other, so each part is timed alone (in one process, a concurrent snapshot
  // parse would be billed to the SQL). Overlapping them would save at most the smaller part.
  const t0 = performance.now();
  const ledger = await pool.query<{ user_id: string; currency: string; total: string }>(
    'SELECT user_id, currency, sum(amount) AS total FROM ledger_entries GROUP BY 1, 2');
  const tSql = performance.now();
  const snapshot = await fetchSnapshot(nc, names, { chunkSize: 1_000, timeoutMs: 10_000 });
  if (!snapshot.ok) throw new Error(`baseline: engine snapshot failed: ${snapshot.error.code}: ${snapshot.error.message}`);
  const engine = { balances: snapshot.snapshot.balances };
  const t1 = performance.now();

  const engineTotals = new Map<string, bigint>();
  for (const row of engine.balances) engineTotals.set(keyOf(row.userId, row.currency), row.totalMinor);
  const mismatches: FullScanResult['mismatches'] = [];
  const currencySums = new Map<string, bigint>();
  const seen = new Set<string>();
  for (const row of ledger.rows) {
    const ledgerMinor = signedDecimalToMinor(row.total, 18);
    currencySums.set(row.currency, (currencySums.get(row.currency) ?? 0n) + ledgerMinor);
    if (row.user_id.startsWith('house:')) continue;
    const key = keyOf(row.user_id, row.currency);
    seen.add(key);
    const engineMinor = engineTotals.get(key) ?? 0n;
    if (engineMinor !== ledgerMinor) mismatches.push({ userId: row.user_id, currency: row.currency, engineMinor, ledgerMinor });
  }
  for (const row of engine.balances) {
    if (row.totalMinor !== 0n && !seen.has(keyOf(row.userId, row.currency))) {
      mismatches.push({ userId: row.userId, currency: row.currency, engineMinor: row.totalMinor, ledgerMinor: 0n });
    }
  }
  const currenciesNonZero = [...currencySums].filter(([, sum]) => sum !== 0n).map(([currency]) => currency);
  const t2 = performance.now();
  return {
    totalMs: t2 - t0,
    sqlMs: tSql - t0,
    snapshotMs: t1 - tSql,
    compareMs: t2 - t1,
    ledgerKeys: ledger.rows.length,
    engineKeys: engine.balances.length,
    mismatches,
    currenciesNonZero,
  };
}

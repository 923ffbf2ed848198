import { minorToDecimal } from '../../config/decimal.js';
import type { Pool } from '../../db/pool.js';
import type { Logger } from '../../observability/logger.js';
import { balanceScale } from '../matching-engine/contract.js';
import { journalImbalance, type Journal } from './operation.js';

export const ledgerWriterLimits = {
  /** Rows per INSERT; whole journals only, so a batch never splits one. */
  batchRowsMax: 5_000,
  flushIntervalMs: 20,
  /** Rows buffered before the simulator stops generating. */
  bufferedRowsMax: 100_000,
  retriesMax: 10,
  retryBackoffMs: 200,
} as const;

export interface LedgerWriterStats {
  journalsWritten: number;
  rowsWritten: number;
  batches: number;
  bufferedRows: number;
  failedJournals: number;
}

/**
 * Writes journals into `ledger_entries` as the ledger service would, batched: one INSERT … SELECT
 * FROM unnest(arrays) per batch (six parameters whatever the row count), one batch in flight at a
 * time. A statement is atomic, so a reader never sees half a journal.
 */
export async function insertJournals(pool: Pool, journals: readonly Journal[]): Promise<number> {
  const columns: string[][] = [[], [], [], [], [], []];
  const [journalIds, userIds, currencies, amounts, referenceTypes, referenceIds] = columns as [string[], string[], string[], string[], string[], string[]];
  for (const journal of journals) {
    const imbalance = journalImbalance(journal);
    if (imbalance) throw new Error(imbalance);
    for (const e of journal.entries) {
      journalIds.push(journal.journalId);
      userIds.push(e.userId);
      currencies.push(e.currency);
      amounts.push(minorToDecimal(e.amountMinor, balanceScale));
      referenceTypes.push(e.referenceType);
      referenceIds.push(e.referenceId);
    }
  }
  if (journalIds.length === 0) return 0;
  await pool.query(
    `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::text[], $6::text[])`,
    columns,
  );
  return journalIds.length;
}

export class LedgerWriter {
  private buffer: Journal[] = [];
  private bufferedRows = 0;
  private flushing: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly counts = { journalsWritten: 0, rowsWritten: 0, batches: 0, failedJournals: 0 };

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => void this.flush(), ledgerWriterLimits.flushIntervalMs);
  }

  get saturated(): boolean {
    return this.bufferedRows >= ledgerWriterLimits.bufferedRowsMax;
  }

  enqueue(journal: Journal): void {
    const imbalance = journalImbalance(journal);
    if (imbalance) throw new Error(imbalance);
    this.buffer.push(journal);
    this.bufferedRows += journal.entries.length;
    if (this.bufferedRows >= ledgerWriterLimits.batchRowsMax) void this.flush();
  }

  /** Writes these journals now, outside the buffer (a fix), and waits for the commit. */
  async writeNow(journals: readonly Journal[]): Promise<void> {
    const rows = await insertJournals(this.pool, journals);
    this.counts.journalsWritten += journals.length;
    this.counts.rowsWritten += rows;
  }

  /** Resolves when everything enqueued so far is committed (or given up on). */
  async idle(): Promise<void> {
    while (this.buffer.length > 0 || this.flushing) await this.flush();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  stats(): LedgerWriterStats {
    return { ...this.counts, bufferedRows: this.bufferedRows };
  }

  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.buffer.length === 0) return Promise.resolve();
    this.flushing = this.writeBatch().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async writeBatch(): Promise<void> {
    let count = 0;
    let rows = 0;
    for (const journal of this.buffer) {
      if (count > 0 && rows + journal.entries.length > ledgerWriterLimits.batchRowsMax) break;
      count += 1;
      rows += journal.entries.length;
    }
    const batch = this.buffer.splice(0, count);
    this.bufferedRows -= rows;
    for (let attempt = 1; ; attempt++) {
      try {
        await insertJournals(this.pool, batch);
        this.counts.batches += 1;
        this.counts.journalsWritten += batch.length;
        this.counts.rowsWritten += rows;
        return;
      } catch (error) {
        if (attempt >= ledgerWriterLimits.retriesMax) {
          // Given up: the ledger now lacks these journals, which is a break the reconciler will report.
          this.counts.failedJournals += batch.length;
          this.log.error({ event: 'sim.ledger.write_failed', journals: batch.length, rows, err: (error as Error).message }, 'ledger batch dropped after retries');
          return;
        }
        this.log.warn({ event: 'sim.ledger.write_retry', attempt, err: (error as Error).message }, 'ledger batch failed, retrying');
        await new Promise((resolve) => setTimeout(resolve, ledgerWriterLimits.retryBackoffMs * attempt));
      }
    }
  }
}

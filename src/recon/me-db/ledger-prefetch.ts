import type { LedgerBatch, LedgerWatermark } from '../../adapters/ledger/ledger-follower.js';

export interface LedgerRead {
  /** The watermark the batch was read after: it applies only if the reconciler is still there. */
  from: LedgerWatermark;
  full: boolean;
  batch: LedgerBatch;
  /** When the read began: a read that was not full shows the ledger complete up to then. */
  startedMs: number;
}

export const sameWatermark = (a: LedgerWatermark, b: LedgerWatermark): boolean => a.txId === b.txId && a.id === b.id;

/**
 * Reads the ledger one batch ahead: while a full batch is being applied (in the reconciler's
 * queue), the next one is already being read, from the watermark that batch ends at. Reading
 * is outside the queue; only applying is serialised. A batch read ahead from a watermark the
 * reconciler has since left (something else read the ledger meanwhile) is dropped by the
 * caller (`from` no longer matches): rows behind the horizon are final, so nothing is lost
 * by reading them again. At most one read is ahead.
 */
export class LedgerPrefetch {
  private ahead: { from: LedgerWatermark; read: Promise<LedgerRead> } | null = null;

  constructor(
    private readonly read: (from: LedgerWatermark) => Promise<{ full: boolean; batch: LedgerBatch }>,
    private readonly nowMs: () => number,
  ) {}

  /** The batch after `from`: the one read ahead when it was read from there, else read now. */
  async next(from: LedgerWatermark): Promise<LedgerRead> {
    const ahead = this.ahead;
    this.ahead = null;
    const result = await (ahead && sameWatermark(ahead.from, from) ? ahead.read : this.start(from));
    if (result.full) this.ahead = { from: result.batch.next, read: this.start(result.batch.next) };
    return result;
  }

  /** Drops what was read ahead (on stop: nothing is left reading). */
  async close(): Promise<void> {
    const ahead = this.ahead;
    this.ahead = null;
    await ahead?.read.catch(() => undefined);
  }

  private start(from: LedgerWatermark): Promise<LedgerRead> {
    const startedMs = this.nowMs();
    const read = this.read(from).then(({ full, batch }) => ({ from, full, batch, startedMs }));
    // Awaited by next(); a read ahead that fails is reported there, never unhandled.
    read.catch(() => undefined);
    return read;
  }
}

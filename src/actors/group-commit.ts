/**
 * Group commit: many callers each submit one item and wait for its result; the items that
 * arrive together (in the same synchronous stretch, or while earlier statements are still
 * running) go to Postgres as one statement. At low load a statement carries one item and goes
 * at once; under load it carries up to `rowsMax`, so round trips per item fall as load rises.
 * Each caller still gets its own result, only after the statement that carried its item has
 * committed: what a caller does next (an ack) happens after its effect is durable.
 *
 * A statement that fails is retried item by item, so one bad item fails only its own caller.
 */
export interface GroupCommitOptions<I, O> {
  /** Items in one statement at most. */
  rowsMax: number;
  /** Statements in flight at once (each holds a pool connection). */
  flushesInFlightMax: number;
  /** Writes (or reads) the items in one statement; returns one result per item, in order. */
  run(items: readonly I[]): Promise<O[]>;
}

interface Waiting<I, O> {
  item: I;
  resolve(result: O): void;
  reject(error: unknown): void;
}

export interface GroupCommitStats {
  statements: number;
  items: number;
}

export class GroupCommit<I, O> {
  private readonly queue: Array<Waiting<I, O>> = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly counters: GroupCommitStats = { statements: 0, items: 0 };

  constructor(private readonly options: GroupCommitOptions<I, O>) {
    if (!(options.rowsMax >= 1) || !(options.flushesInFlightMax >= 1)) throw new RangeError('group commit: rowsMax and flushesInFlightMax must be ≥ 1');
  }

  /** Resolves with the item's result once the statement that carried it has completed. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  stats(): GroupCommitStats {
    return { ...this.counters };
  }

  /** Items waiting for a statement (bounded by the number of callers: each waits for its own). */
  get depth(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.flushesInFlightMax || this.queue.length === 0) return;
    this.scheduled = true;
    // A microtask, not a turn of the event loop: whatever is submitted in the same synchronous
    // stretch still joins, and an item never waits for the rest of a busy loop turn (ADR 0024).
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight >= this.options.flushesInFlightMax || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.options.rowsMax);
    this.inFlight++;
    this.counters.statements++;
    this.counters.items += batch.length;
    void this.runBatch(batch).finally(() => {
      this.inFlight--;
      this.schedule();
    });
    // More waiting than one statement carries, and room for another: send it too.
    this.schedule();
  }

  private async runBatch(batch: Array<Waiting<I, O>>): Promise<void> {
    try {
      const results = await this.options.run(batch.map((w) => w.item));
      if (results.length !== batch.length) throw new Error(`group commit: ${results.length} results for ${batch.length} items`);
      batch.forEach((w, i) => w.resolve(results[i] as O));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      // One bad item must not fail the others: each on its own.
      await Promise.all(batch.map(async (w) => {
        try {
          const [result] = await this.options.run([w.item]);
          w.resolve(result as O);
        } catch (itemError) {
          w.reject(itemError);
        }
      }));
    }
  }
}

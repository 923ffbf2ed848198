import type { SerialQueue } from '../serial-queue.js';

/** Events handled between two turns of the event loop. */
const engineInboxYieldEvery = 256;
const retryAfterFailureMs = 1_000;

/**
 * Engine messages are applied in batches: everything that arrived while the previous batch
 * ran goes into one queue task, so a burst costs one trip through the queue, not one per
 * event.
 */
export class EngineInbox<T> {
  private readonly items: T[] = [];
  private drainQueued = false;
  private draining: Promise<void> = Promise.resolve();

  constructor(
    private readonly queue: SerialQueue,
    private readonly handle: (item: T) => Promise<void>,
    private readonly onError: (error: unknown) => void,
    /** Runs before each batch with its items (e.g. to load what the batch will touch). */
    private readonly beforeBatch?: (items: readonly T[]) => Promise<void>,
  ) {}

  /** Messages received, waiting for the next batch. */
  get size(): number {
    return this.items.length;
  }

  /** The batch queued last: settles when it has run. */
  get drained(): Promise<void> {
    return this.draining;
  }

  push(item: T): void {
    this.items.push(item);
    this.drain();
  }

  private drain(): void {
    if (this.drainQueued) return;
    this.drainQueued = true;
    this.draining = this.queue
      .run(async () => {
        this.drainQueued = false;
        const batch = this.items.slice();
        try {
          await this.beforeBatch?.(batch);
        } catch (error) {
          // Nothing of the batch is applied and it stays first in line, in order: tried again
          // with the next message, or after a pause when none comes.
          this.onError(error);
          setTimeout(() => this.drain(), retryAfterFailureMs).unref();
          return;
        }
        this.items.splice(0, batch.length);
        let handled = 0;
        for (const item of batch) {
          try {
            await this.handle(item);
          } catch (error) {
            // Left unacked: it comes back after ack_wait (or at the next start, in order).
            this.onError(error);
          }
          // Handlers settle as microtasks, which hold off I/O: let it in now and then, so a ledger
          // read finishing meanwhile is parsed (and the next one sent) without waiting for the batch.
          if (++handled % engineInboxYieldEvery === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        }
      })
      .catch((error: unknown) => this.onError(error));
  }
}

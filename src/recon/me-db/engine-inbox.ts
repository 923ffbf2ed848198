import type { SerialQueue } from '../serial-queue.js';

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
        for (const item of this.items.splice(0)) {
          try {
            await this.handle(item);
          } catch (error) {
            // Left unacked: it comes back after ack_wait (or at the next start, in order).
            this.onError(error);
          }
        }
      })
      .catch((error: unknown) => this.onError(error));
  }
}

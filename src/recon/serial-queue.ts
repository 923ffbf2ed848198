/**
 * Runs async tasks one at a time, in the order they were queued: the mailbox of an actor
 * whose messages come from several sources (a stream, a poller, timers, admin requests).
 * A failed task rejects its own promise and does not stop the queue.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private readonly waitingByName = new Set<string>();

  constructor(readonly depthMax: number) {}

  get depth(): number {
    return this.queued;
  }

  /**
   * Queues `task` unless a task of this name is already waiting: a periodic task that runs
   * slow delays the next one instead of piling them up. Returns null when skipped.
   */
  runCoalesced(name: string, task: () => Promise<void>): Promise<void> | null {
    if (this.waitingByName.has(name)) return null;
    this.waitingByName.add(name);
    return this.run(() => {
      this.waitingByName.delete(name);
      return task();
    });
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.queued >= this.depthMax) return Promise.reject(new Error(`serial queue full (${this.depthMax})`));
    this.queued++;
    const result = this.tail.then(task, task);
    this.tail = result.then(
      () => this.queued--,
      () => this.queued--,
    );
    return result;
  }
}

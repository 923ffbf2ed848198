/**
 * A bounded FIFO of one actor's pending messages. `push` waits while the mailbox is full,
 * so a slow actor slows its producer instead of growing without limit.
 */
export class Mailbox<T> {
  private readonly items: T[] = [];
  private readonly waitingForRoom: Array<() => void> = [];
  private closed = false;

  constructor(readonly depthMax: number) {
    if (!Number.isInteger(depthMax) || depthMax < 1) throw new RangeError(`mailbox depthMax must be ≥ 1, got ${depthMax}`);
  }

  get depth(): number {
    return this.items.length;
  }

  async push(item: T): Promise<void> {
    while (this.items.length >= this.depthMax && !this.closed) {
      await new Promise<void>((resolve) => this.waitingForRoom.push(resolve));
    }
    if (this.closed) throw new Error('mailbox closed');
    this.items.push(item);
  }

  /** Wakes every waiting producer with an error: the actor is going away. */
  close(): void {
    this.closed = true;
    for (const wake of this.waitingForRoom.splice(0)) wake();
  }

  peek(): T | undefined {
    return this.items[0];
  }

  shift(): T | undefined {
    const item = this.items.shift();
    this.waitingForRoom.shift()?.();
    return item;
  }
}

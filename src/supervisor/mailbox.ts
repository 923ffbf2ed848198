/**
 * A bounded FIFO of one actor's pending messages. `push` waits while the mailbox is full,
 * so a slow actor slows its producer instead of growing without limit.
 */
export class Mailbox<T> {
  private readonly items: T[] = [];
  private readonly waitingForRoom: Array<() => void> = [];

  constructor(readonly depthMax: number) {
    if (!Number.isInteger(depthMax) || depthMax < 1) throw new RangeError(`mailbox depthMax must be ≥ 1, got ${depthMax}`);
  }

  get depth(): number {
    return this.items.length;
  }

  async push(item: T): Promise<void> {
    while (this.items.length >= this.depthMax) {
      await new Promise<void>((resolve) => this.waitingForRoom.push(resolve));
    }
    this.items.push(item);
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

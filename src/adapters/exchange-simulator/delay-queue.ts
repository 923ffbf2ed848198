/**
 * A FIFO that holds each item until `delayMs` after it was queued, with `delayMs` read at release
 * time: lowering the delay lets a lagging side catch up at once, raising it holds more back. Items
 * leave strictly in order, because a lagging system still applies its changes in the order they
 * happened.
 */
export class DelayQueue<T> {
  private readonly items: { queuedAtMs: number; item: T }[] = [];
  private head = 0;

  constructor(
    readonly itemsMax: number,
    public delayMs = 0,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T, nowMs: number): void {
    if (this.length >= this.itemsMax) throw new Error(`delay queue full (${this.itemsMax} items)`);
    this.items.push({ queuedAtMs: nowMs, item });
  }

  /** Removes and returns, in order, every item due at `nowMs` (stopping at the first not yet due). */
  takeDue(nowMs: number): T[] {
    const due: T[] = [];
    while (this.head < this.items.length) {
      const entry = this.items[this.head] as { queuedAtMs: number; item: T };
      if (entry.queuedAtMs + this.delayMs > nowMs) break;
      due.push(entry.item);
      this.head += 1;
    }
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1_024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return due;
  }

  /** Items still waiting, oldest first. */
  pending(): T[] {
    return this.items.slice(this.head).map((entry) => entry.item);
  }
}

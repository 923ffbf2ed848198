/**
 * Since when each key has differed: a difference becomes a break once it has lasted the
 * boundary's grace window; agreeing (or not being judged) restarts the key's clock. One clock
 * for the boundaries that compare whole snapshots (db_custody per asset, db_chain per total
 * and address); me_db keeps its own per position, with each side's completeness (ADR 0005).
 */
export class GraceClock {
  private readonly since = new Map<string, number>();

  /** The time the key has differed since (now if it just started), or null if it does not differ now. */
  observe(key: string, differs: boolean, nowMs: number): number | null {
    if (!differs) {
      this.since.delete(key);
      return null;
    }
    const since = this.since.get(key) ?? nowMs;
    this.since.set(key, since);
    return since;
  }

  /** Not judged this round (e.g. a side unreadable): its grace starts again when it is. */
  reset(key: string): void {
    this.since.delete(key);
  }

  forget(prefix: string): void {
    for (const key of [...this.since.keys()]) if (key.startsWith(prefix)) this.since.delete(key);
  }

  clear(): void {
    this.since.clear();
  }
}

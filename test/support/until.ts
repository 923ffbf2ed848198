export interface UntilOptions {
  pollMs?: number;
  /** A probe that throws counts as "not yet" (a consumer not created yet, an engine not up yet). */
  retryErrors?: boolean;
  /** Appended to the timeout's message: what the test saw (e.g. the engine's log tail). */
  detail?: () => string;
}

/** Polls `probe` until it returns something truthy (and returns that), or fails naming `what`. */
export async function until<T>(
  what: string,
  probe: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  timeoutMs = 20_000,
  options: number | UntilOptions = {},
): Promise<T> {
  const { pollMs = 50, retryErrors = false, detail } = typeof options === 'number' ? { pollMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = retryErrors ? await Promise.resolve().then(probe).catch(() => null) : await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${detail ? `; ${detail()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * `work`'s outcome, or a rejection with `timeoutMessage` when `ms` pass first. The timer never
 * outlives the race; `work` itself is not cancelled (whoever started it owns that).
 */
export function withTimeout<T>(work: Promise<T>, ms: number, timeoutMessage: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(timeoutMessage)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

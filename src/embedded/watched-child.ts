import type { ChildProcess } from 'node:child_process';

/** What became of a spawned child: read by the start-up loops and stop() of each embedded service. */
export interface WatchedChild {
  readonly exited: boolean;
  /** `code N` or `signal S` once exited. */
  readonly exitInfo: string;
  readonly spawnError: Error | undefined;
  /** Resolves when the child has exited. */
  readonly exit: Promise<void>;
  /**
   * Sends each signal at its delay (ms after the call) until the child has exited, then
   * resolves: e.g. `[['SIGTERM', 0], ['SIGKILL', 10_000]]`. Resolves at once if it already has.
   */
  terminate(escalation: ReadonlyArray<readonly [NodeJS.Signals, number]>): Promise<void>;
}

export function watchChild(child: ChildProcess): WatchedChild {
  const state = { exited: false, exitInfo: '', spawnError: undefined as Error | undefined };
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      state.exited = true;
      state.exitInfo = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
  });
  child.once('error', (err) => {
    state.spawnError = err;
    state.exited = true;
  });
  const terminate = async (escalation: ReadonlyArray<readonly [NodeJS.Signals, number]>): Promise<void> => {
    if (state.exited) return;
    const timers = escalation.map(([signal, afterMs]) => setTimeout(() => !state.exited && child.kill(signal), afterMs));
    await exit;
    for (const timer of timers) clearTimeout(timer);
  };
  return {
    terminate,
    get exited() {
      return state.exited;
    },
    get exitInfo() {
      return state.exitInfo;
    },
    get spawnError() {
      return state.spawnError;
    },
    exit,
  };
}

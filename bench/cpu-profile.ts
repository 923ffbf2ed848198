/** The in-process V8 CPU profiler (node:inspector) for one stretch of a bench, and a summary of where the time went. */
import { writeFile } from 'node:fs/promises';
import { Session, type Profiler } from 'node:inspector';

export interface CpuProfileRun {
  /** Stops, writes the profile (open it in Chrome DevTools › Performance) and returns its summary. */
  stop(path: string): Promise<ProfileSummary>;
}

export interface ProfileSummary {
  /** Share of samples in which the process was idle (waiting on I/O). */
  idleShare: number;
  gcShare: number;
  /** The functions with the most self time, as `name (file:line)` and a share of all samples. */
  top: Array<{ fn: string; share: number }>;
}

export async function startProfile(): Promise<CpuProfileRun> {
  const session = new Session();
  session.connect();
  const post = <T>(method: string, params?: object): Promise<T> =>
    new Promise((resolve, reject) => session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result as T))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 500 });
  await post('Profiler.start');
  return {
    async stop(path: string) {
      const { profile } = await post<{ profile: Profiler.Profile }>('Profiler.stop');
      session.disconnect();
      await writeFile(path, JSON.stringify(profile));
      return summarise(profile);
    },
  };
}

export function summarise(profile: Profiler.Profile, topCount = 12): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map<number, number>();
  for (const id of profile.samples ?? []) hits.set(id, (hits.get(id) ?? 0) + 1);
  const total = Math.max(1, profile.samples?.length ?? 0);
  const byFn = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  for (const [id, count] of hits) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === '(idle)') idle += count;
    if (frame.functionName === '(garbage collector)') gc += count;
    const file = frame.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/(src|bench)\//, '$1/');
    const fn = `${frame.functionName || '(anonymous)'}${file ? ` (${file}:${frame.lineNumber + 1})` : ''}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + count);
  }
  const top = [...byFn].sort((a, b) => b[1] - a[1]).slice(0, topCount).map(([fn, count]) => ({ fn, share: count / total }));
  return { idleShare: idle / total, gcShare: gc / total, top };
}

import type { ServiceContext } from '../runtime/service-context.js';
import type { Fence } from '../supervisor/fence.js';

/** What every reconciler is started with. */
export interface ReconcilerDeps extends ServiceContext {
  /** The leader term's fencing token: every durable write checks it (absent: unfenced, e.g. a test). */
  fence?: Fence | null;
  /** A write was refused by the fence: this instance is no longer the leader and must step down. */
  onFenced?(error: Error): void;
}

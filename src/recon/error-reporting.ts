import type { Logger } from '../observability/logger.js';
import { classifyFailure } from '../supervisor/failure-class.js';
import { FencedError } from '../supervisor/fence.js';
import type { BreakRegistry } from './breaks/break-registry.js';
import { breakKinds } from './breaks/break-kinds.js';
import { reconLimits } from './limits.js';

export interface ErrorReportingContext {
  boundary: string;
  log: Logger;
  breaks: BreakRegistry;
  /** The key of this boundary's reconciler_error break. */
  key: string;
  onFenced?(error: Error): void;
  nowMs(): number;
}

/**
 * An error inside a reconciler is itself paged (kind reconciler_error, through NATS first so
 * an unreachable Postgres still pages), never silent. A write refused by the fence is not an
 * error to page: it means another instance leads now, and this one steps down.
 */
export function reportReconcilerError(ctx: ErrorReportingContext, where: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof FencedError) {
    ctx.log.error({ event: 'recon.fenced', boundary: ctx.boundary, where, err: message }, 'write refused by the lease fence: stepping down');
    ctx.onFenced?.(error);
    return;
  }
  if (isPostgresAway(error) && forgivesCut(ctx)) {
    ctx.log.warn({ event: 'recon.connection_cut', boundary: ctx.boundary, where, err: message }, 'Postgres went away under a statement (a cut): retried on a fresh connection; paged if it lasts or comes back');
    return;
  }
  ctx.log.error({ event: 'recon.error', boundary: ctx.boundary, where, err: message }, 'reconciler error');
  void ctx.breaks.raiseMeta({ kind: breakKinds.reconcilerError, key: ctx.key, detail: `${where}: ${message}`.slice(0, 2_000) }, ctx.nowMs()).catch((recordError: unknown) => {
    if (recordError instanceof FencedError) return reportReconcilerError(ctx, 'record reconciler_error', recordError);
    ctx.log.warn({ event: 'recon.error_unrecorded', boundary: ctx.boundary, err: (recordError as Error).message }, 'reconciler_error paged but not recorded yet; retried');
  });
}

function isPostgresAway(error: unknown): boolean {
  const failure = classifyFailure(error);
  return failure.kind === 'transient' && failure.dependency === 'postgres';
}

/** When each reconciler's current run of cut connections began (keyed by its context: one per reconciler). */
const cutSince = new WeakMap<ErrorReportingContext, number>();

/**
 * One cut (a Postgres restart or failover, pg_terminate_backend) fails every statement in flight
 * at once; each is retried on a fresh connection (the ledger poll, the next drain, the next
 * checkpoint), so it is not a reconciler failure. Postgres-away errors (ADR 0028's classifier)
 * in the first `connectionCutSpreadMs` are forgiven; after that, an outage that lasts or a cut
 * again before `connectionCutQuietMs` pages as any error does (ADR 0027).
 */
function forgivesCut(ctx: ErrorReportingContext): boolean {
  const nowMs = ctx.nowMs();
  const since = cutSince.get(ctx);
  if (since === undefined || nowMs - since > reconLimits.connectionCutQuietMs) {
    cutSince.set(ctx, nowMs);
    return true;
  }
  return nowMs - since <= reconLimits.connectionCutSpreadMs;
}

/** The background writes of a boundary (the outbox drainer) fail the same way. */
export function writeFailureHandler(ctx: () => ErrorReportingContext): (error: unknown) => void {
  return (error) => reportReconcilerError(ctx(), 'outbox', error);
}

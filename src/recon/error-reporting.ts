import type { Logger } from '../observability/logger.js';
import { FencedError } from '../supervisor/fence.js';
import type { BreakRegistry } from './breaks/break-registry.js';
import { breakKinds } from './breaks/break-kinds.js';

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
  ctx.log.error({ event: 'recon.error', boundary: ctx.boundary, where, err: message }, 'reconciler error');
  void ctx.breaks.raiseMeta({ kind: breakKinds.reconcilerError, key: ctx.key, detail: `${where}: ${message}`.slice(0, 2_000) }, ctx.nowMs()).catch((recordError: unknown) => {
    if (recordError instanceof FencedError) return reportReconcilerError(ctx, 'record reconciler_error', recordError);
    ctx.log.warn({ event: 'recon.error_unrecorded', boundary: ctx.boundary, err: (recordError as Error).message }, 'reconciler_error paged but not recorded yet; retried');
  });
}

/** The background writes of a boundary (the outbox drainer) fail the same way. */
export function writeFailureHandler(ctx: () => ErrorReportingContext): (error: unknown) => void {
  return (error) => reportReconcilerError(ctx(), 'outbox', error);
}

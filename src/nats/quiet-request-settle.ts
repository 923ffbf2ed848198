import { createHash } from 'node:crypto';
import { RequestError, TimeoutError, type Msg } from '@nats-io/nats-core';
import { RequestOne } from '@nats-io/nats-core/internal';

/**
 * SHA-256 of the source of `RequestOne.prototype.resolver` and `.cancel` in @nats-io/nats-core
 * 3.4.0, the code this replaces. Any other code (another release) is left as it is: what it does
 * may differ, and `npm run bench` would show the cost coming back.
 */
const replacedSource = {
  resolver: 'f84f6fbe68261e006028d5382c061a9f5bdebd389a1264e89524be8c54dad218',
  cancel: '5e7f460c92cad65b51da0416d4e41ec414efd144e34bba6cf47e0a6fb975313a',
} as const;

const sourceHash = (fn: unknown): string => createHash('sha256').update(String(fn)).digest('hex');

const installed = Symbol.for('recon-engine.quiet-request-settle');

/**
 * @nats-io/nats-core 3.4 ends every request, answered or not, with `cancel()`, which builds a
 * `RequestError("cancelled")` (a stack capture) to reject a promise that has already settled:
 * about 5% of the engine's CPU on the command path, one per KV write and per event publish
 * (ADR 0032). A settled request only needs its timer stopped and its entry in the connection's
 * reply table removed; this replaces `RequestOne.prototype.resolver` with the 3.4.0 code minus
 * that one wasted error. Errors and timeouts reach the caller exactly as before.
 *
 * Process-wide and idempotent. Returns false (and changes nothing) when the code is not 3.4.0's.
 */
export function installQuietRequestSettle(): boolean {
  const prototype = RequestOne.prototype as RequestOne & { [installed]?: true };
  if (prototype[installed]) return true;
  if (sourceHash(prototype.resolver) !== replacedSource.resolver || sourceHash(prototype.cancel) !== replacedSource.cancel) return false;
  prototype.resolver = function resolver(this: RequestOne, error: Error | null, msg: Msg): void {
    this.timer?.cancel();
    if (error) {
      // As 3.4.0 does: a timeout keeps its own stack; anything else carries the caller's context.
      let rejection = error;
      if (!(error instanceof TimeoutError)) {
        if (this.ctx) {
          this.ctx.message = error.message;
          this.ctx.cause = error;
          rejection = this.ctx;
        } else {
          rejection = new RequestError(error.message, { cause: error });
        }
      }
      this.deferred.reject(rejection);
    } else {
      this.deferred.resolve(msg);
    }
    // What cancel() does, without rejecting the settled promise with a new error.
    this.mux.cancel(this);
  };
  prototype[installed] = true;
  return true;
}

import { z } from 'zod';
import { userIdSchema } from '../actors/identifiers.js';
import { currencySchema } from '../adapters/matching-engine/contract.js';
import { EodInputError } from '../eod/close-run.js';
import type { EodService } from '../eod/close-service.js';
import { AdminError } from './errors.js';
import { parseRequest } from './requests.js';

export const dateRequest = z.object({ date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD') });
export const proofRequest = dateRequest.extend({ userId: userIdSchema, currency: currencySchema });

/** How long `admin.eod.run` waits for the close before answering `running` (docs/contract.md: up to 60 s). */
export const eodRunWaitMs = 55_000;

function asAdminError(error: unknown): never {
  if (error instanceof EodInputError) throw new AdminError(error.code, error.message);
  throw error;
}

/** `admin.eod.*` on the leader (the close runs there; other instances forward). */
export function eodHandlers(service: () => EodService, runWaitMs = eodRunWaitMs) {
  return {
    async run(body: unknown) {
      const { date } = parseRequest(dateRequest, body);
      const eod = service();
      await eod.close.validate(date).catch(asAdminError);
      const running = eod.run(date).catch(asAdminError);
      let timer: NodeJS.Timeout | undefined;
      const waited = await Promise.race([running.then((s) => s), new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), runWaitMs); })]);
      clearTimeout(timer);
      if (waited === null) running.catch(() => undefined);
      const state = waited ?? (await eod.close.state(date));
      return { date, status: waited === null ? 'running' : state.status, steps: state.steps.map((s) => ({ name: s.name, status: s.status })) };
    },
    async status(body: unknown) {
      const { date } = parseRequest(dateRequest, body);
      return service().close.state(date).catch(asAdminError);
    },
    async report(body: unknown) {
      const { date } = parseRequest(dateRequest, body);
      return service().close.report(date).catch(asAdminError);
    },
    async proof(body: unknown) {
      const req = parseRequest(proofRequest, body);
      return service().proofs.proof(req.date, req.userId, req.currency).catch(asAdminError);
    },
  };
}

import { z } from 'zod';
import { actorIdSchema } from '../actors/identifiers.js';
import type { BoundaryStatus } from '../recon/boundary-status.js';
import type { LiveBreak } from '../recon/breaks/break.js';
import type { Reconciler } from '../recon/reconciler.js';
import { AdminError } from './errors.js';
import { parseRequest } from './requests.js';

/** What the admin service needs of a running reconciler. */
export type ReconView = Pick<Reconciler, 'status' | 'liveBreaks' | 'act' | 'rebaseline'>;

export const emptyRequest = z.object({});
/** Free text for an operator's reason; Postgres text cannot hold NUL. */
const reasonText = z.string().min(1).max(1_000).refine((text) => !text.includes('\u0000'), 'reason must not contain NUL');
export const breakActionRequest = z.object({
  boundary: z.string().min(1).max(32),
  breakId: z.string().uuid('breakId must be a UUID'),
  actorId: actorIdSchema,
  reason: reasonText.optional(),
});
export const acceptRequest = breakActionRequest.extend({ reason: z.string().min(1, 'accepting a break needs a reason').pipe(reasonText) });
export const breaksListRequest = z.object({ boundary: z.string().min(1).max(32).optional() });
export const rebaselineRequest = z.object({
  boundary: z.string().min(1).max(32),
  actorId: actorIdSchema,
  reason: z.string().min(1, 'a re-baseline needs a reason').pipe(reasonText),
});

function wire(b: LiveBreak) {
  return {
    breakId: b.id, boundary: b.boundary, kind: b.kind, key: b.key, userId: b.userId, currency: b.currency,
    left: b.left, right: b.right, delta: b.delta, detail: b.detail, status: b.status, firstSeenAt: new Date(b.firstSeenAtMs).toISOString(),
  };
}

/** `admin.recon.*`: status of every boundary, live breaks, and the operator's acknowledge / accept. */
export function reconHandlers(reconcilers: ReadonlyMap<string, ReconView>, disabled: () => BoundaryStatus[]) {
  const find = (boundary: string): ReconView => {
    const view = reconcilers.get(boundary);
    if (!view) throw new AdminError('NOT_FOUND', `no running reconciler for boundary ${boundary}`);
    return view;
  };
  const act = async (body: unknown, action: 'acknowledge' | 'accept') => {
    const req = action === 'accept' ? parseRequest(acceptRequest, body) : parseRequest(breakActionRequest, body);
    const done = await find(req.boundary).act(req.breakId, action, req.actorId, req.reason ?? null);
    if (done.outcome === 'unknown') throw new AdminError('NOT_FOUND', `no live break ${req.breakId} on ${req.boundary}`);
    if (done.outcome === 'not_live') {
      // Resolved meanwhile (the close, ADR 0029): not live any more, so not found as a live break; nothing was recorded.
      throw new AdminError('NOT_FOUND', `break ${req.breakId} on ${req.boundary} is resolved${done.resolvedAt ? ` (at ${done.resolvedAt})` : ''}, status ${done.status}: no longer live, nothing recorded`);
    }
    return wire(done.live);
  };
  return {
    async status(body: unknown) {
      parseRequest(emptyRequest, body);
      return { boundaries: [...[...reconcilers.values()].map((r) => r.status()), ...disabled()] };
    },
    async breaks(body: unknown) {
      const req = parseRequest(breaksListRequest, body);
      const views = req.boundary ? [find(req.boundary)] : [...reconcilers.values()];
      return { breaks: views.flatMap((v) => v.liveBreaks().map(wire)) };
    },
    acknowledge: (body: unknown) => act(body, 'acknowledge'),
    accept: (body: unknown) => act(body, 'accept'),
    /** After a sequence fault: re-seed the boundary's left side from its source's snapshot. */
    async rebaseline(body: unknown) {
      const req = parseRequest(rebaselineRequest, body);
      const view = find(req.boundary);
      if (!view.rebaseline) throw new AdminError('INVALID_REQUEST', `boundary ${req.boundary} has no snapshot to re-baseline from`);
      return { boundary: req.boundary, ...(await view.rebaseline(req.actorId, req.reason)) };
    },
  };
}

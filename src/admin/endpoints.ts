import type { z } from 'zod';
import { listParked } from '../actors/parking.js';
import type { Pool } from '../db/pool.js';
import type { accountHandlers } from './account-handlers.js';
import type { AdminHandler } from './admin-service.js';
import { auditVerifyRequest, type auditHandlers } from './audit-handlers.js';
import type { balanceHandlers } from './balance-handlers.js';
import { dateRequest, eodRunWaitMs, proofRequest, type eodHandlers } from './eod-handlers.js';
import { acceptRequest, breakActionRequest, breaksListRequest, emptyRequest, rebaselineRequest, type reconHandlers } from './recon-handlers.js';
import { accountRefRequest, auditReplayRequest, balanceAdjustRequest, createAccountRequest, parkedListRequest, parseRequest, transitionRequest } from './requests.js';

/** What the endpoints answered on any instance are built from. */
export interface AnyInstanceApis {
  accounts: ReturnType<typeof accountHandlers>;
  audit: ReturnType<typeof auditHandlers>;
  balance: ReturnType<typeof balanceHandlers>;
  pool: Pool;
}

/** What the leader-only endpoints are built from (the reconcilers and the EOD close run there). */
export interface LeaderApis {
  recon: ReturnType<typeof reconHandlers>;
  eod: ReturnType<typeof eodHandlers>;
}

interface EndpointCommon {
  /** Relative to the admin prefix: `account.create` is `admin.account.create` (docs/contract.md §2). */
  subject: string;
  /** The body the handler parses (with parseRequest): documentation here, checked there. */
  request: z.ZodType;
  /** The auditor role may call it (deploy/nats-server.conf allows exactly these; test/deploy checks). */
  auditor: boolean;
}

/** Answered by whichever instance the request reaches. */
interface AnyInstanceEndpoint extends EndpointCommon {
  runs: 'any';
  handler(apis: AnyInstanceApis): AdminHandler;
}

/** Answered on the leader; another instance forwards the request there and waits up to forwardTimeoutMs. */
interface LeaderEndpoint extends EndpointCommon {
  runs: 'leader';
  handler(apis: LeaderApis): AdminHandler;
  forwardTimeoutMs: number;
}

export type AdminEndpoint = AnyInstanceEndpoint | LeaderEndpoint;

const forwardTimeoutMs = 10_000;
/** `admin.eod.run` waits up to eodRunWaitMs on the leader: the forward waits longer. */
const eodForwardTimeoutMs = eodRunWaitMs + 10_000;

/**
 * Every admin endpoint, in the order the service registers them. Adding an endpoint is a row
 * here and its handler; an auditor row also needs its subject in deploy/nats-server.conf and
 * docs/contract.md ("Roles").
 */
export const adminEndpoints: readonly AdminEndpoint[] = [
  { subject: 'account.create', runs: 'any', request: createAccountRequest, auditor: false, handler: (a) => a.accounts.create },
  { subject: 'account.get', runs: 'any', request: accountRefRequest, auditor: true, handler: (a) => a.accounts.get },
  { subject: 'account.transition', runs: 'any', request: transitionRequest, auditor: false, handler: (a) => a.accounts.transition },
  { subject: 'account.history', runs: 'any', request: accountRefRequest, auditor: true, handler: (a) => a.accounts.history },
  { subject: 'audit.replay', runs: 'any', request: auditReplayRequest, auditor: true, handler: (a) => a.accounts.replay },
  { subject: 'audit.verify', runs: 'any', request: auditVerifyRequest, auditor: true, handler: (a) => a.audit.verify },
  { subject: 'balance.adjust', runs: 'any', request: balanceAdjustRequest, auditor: false, handler: (a) => a.balance.adjust },
  { subject: 'recon.status', runs: 'leader', request: emptyRequest, auditor: true, forwardTimeoutMs, handler: (l) => l.recon.status },
  { subject: 'recon.breaks', runs: 'leader', request: breaksListRequest, auditor: true, forwardTimeoutMs, handler: (l) => l.recon.breaks },
  { subject: 'recon.break.acknowledge', runs: 'leader', request: breakActionRequest, auditor: false, forwardTimeoutMs, handler: (l) => l.recon.acknowledge },
  { subject: 'recon.break.accept', runs: 'leader', request: acceptRequest, auditor: false, forwardTimeoutMs, handler: (l) => l.recon.accept },
  { subject: 'recon.rebaseline', runs: 'leader', request: rebaselineRequest, auditor: false, forwardTimeoutMs, handler: (l) => l.recon.rebaseline },
  { subject: 'eod.run', runs: 'leader', request: dateRequest, auditor: false, forwardTimeoutMs: eodForwardTimeoutMs, handler: (l) => l.eod.run },
  { subject: 'eod.status', runs: 'leader', request: dateRequest, auditor: true, forwardTimeoutMs, handler: (l) => l.eod.status },
  { subject: 'eod.report', runs: 'leader', request: dateRequest, auditor: true, forwardTimeoutMs, handler: (l) => l.eod.report },
  { subject: 'eod.proof', runs: 'leader', request: proofRequest, auditor: true, forwardTimeoutMs, handler: (l) => l.eod.proof },
  {
    subject: 'parked.list', runs: 'any', request: parkedListRequest, auditor: false,
    handler: (a) => async (body) => ({ parked: await listParked(a.pool, parseRequest(parkedListRequest, body).limit) }),
  },
];

/** The leader-only rows. */
export const leaderEndpoints = adminEndpoints.filter((e): e is LeaderEndpoint => e.runs === 'leader');

/** The leader-only handlers, as the leader answers them (locally or for a forwarded request). */
export function leaderHandlers(apis: LeaderApis): Record<string, AdminHandler> {
  return Object.fromEntries(leaderEndpoints.map((e) => [e.subject, e.handler(apis)]));
}

/**
 * Every endpoint's handler for the admin service: the any-instance rows built here, the
 * leader rows from `leaderForwarding` (answered on the leader, forwarded to it elsewhere).
 */
export function adminHandlers(apis: AnyInstanceApis, leaderForwarding: Readonly<Record<string, AdminHandler>>): Record<string, AdminHandler> {
  return Object.fromEntries(adminEndpoints.map((e) => {
    const handler = e.runs === 'any' ? e.handler(apis) : leaderForwarding[e.subject];
    if (!handler) throw new Error(`no leader handler for admin.${e.subject}`);
    return [e.subject, handler];
  }));
}

import type { JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { CommandReply } from '../actors/account-command.js';
import { accountRecordSchema, verifyChain, type AccountRecord } from '../actors/account-record.js';
import { accountHistory } from '../actors/audit-log.js';
import type { AccountCommandClient } from '../actors/command-client.js';
import { readAccountEvents } from '../audit/event-replay.js';
import type { Pool } from '../db/pool.js';
import { capabilitiesOf, replayTransitions, type AccountState } from '../fsm/index.js';
import type { NatsNames } from '../nats/names.js';
import { AdminError } from './errors.js';
import { accountRefRequest, auditReplayRequest, createAccountRequest, parseRequest, transitionRequest } from './requests.js';

export interface AccountHandlerDeps {
  js: JetStreamClient;
  accounts: KV;
  pool: Pool;
  names: NatsNames;
  commands: AccountCommandClient;
}

type Outcome<T extends CommandReply> = Extract<T, { ok: true }>;

function accepted(reply: CommandReply): Outcome<CommandReply> {
  if (!reply.ok) throw new AdminError(reply.error.code, reply.error.message);
  return reply;
}

async function readRecord(accounts: KV, userId: string): Promise<{ record: AccountRecord; revision: number } | null> {
  const entry = await accounts.get(userId);
  if (entry === null || entry.operation !== 'PUT') return null;
  return { record: accountRecordSchema.parse(entry.json()), revision: entry.revision };
}

/** The account endpoints of the admin contract (docs/contract.md §2). Each takes the raw JSON body. */
export function accountHandlers(deps: AccountHandlerDeps) {
  return {
    async create(body: unknown) {
      const req = parseRequest(createAccountRequest, body);
      const reply = accepted(
        await deps.commands.send({
          kind: 'create',
          userId: req.userId,
          target: 'pending_kyc',
          authority: 'self',
          reasonCode: 'signup',
          actorId: req.actorId ?? req.userId,
          ...(req.commandId ? { commandId: req.commandId } : {}),
        }),
      );
      return { userId: reply.userId, state: reply.to, revision: reply.revision };
    },

    async get(body: unknown) {
      const { userId } = parseRequest(accountRefRequest, body);
      const found = await readRecord(deps.accounts, userId);
      if (!found) throw new AdminError('NOT_FOUND', `account ${userId} does not exist`);
      return { userId, state: found.record.state, revision: found.revision, capabilities: capabilitiesOf(found.record.state) };
    },

    async transition(body: unknown) {
      const req = parseRequest(transitionRequest, body);
      const reply = accepted(await deps.commands.send({ kind: 'transition', ...req }));
      return { userId: reply.userId, from: reply.from, to: reply.to, revision: reply.revision, transitionId: reply.transitionId };
    },

    async history(body: unknown) {
      const { userId } = parseRequest(accountRefRequest, body);
      const rows = await accountHistory(deps.pool, userId);
      if (rows.length === 0 && !(await readRecord(deps.accounts, userId))) {
        throw new AdminError('NOT_FOUND', `account ${userId} does not exist`);
      }
      return {
        userId,
        transitions: rows.map((r) => ({
          from: r.from,
          to: r.to,
          reasonCode: r.reasonCode,
          authority: r.authority,
          actorId: r.actorId,
          at: new Date(r.atMs).toISOString(),
        })),
      };
    },

    /**
     * Rebuilds the account from its JetStream events alone, then checks that rebuild against
     * the KV state and against the Postgres audit table (rows, order and hash chain).
     */
    async replay(body: unknown) {
      const req = parseRequest(auditReplayRequest, body);
      const [events, rows, found] = await Promise.all([
        readAccountEvents(deps.js, deps.names, req.userId),
        accountHistory(deps.pool, req.userId),
        readRecord(deps.accounts, req.userId),
      ]);
      if (events.length === 0 && rows.length === 0 && !found) throw new AdminError('NOT_FOUND', `account ${req.userId} does not exist`);

      let rebuilt: AccountState | null = null;
      let replayError: string | null = null;
      try {
        rebuilt = replayTransitions(events.map((e) => ({ from: e.from, to: e.to, authority: e.authority, reasonCode: e.reasonCode, atMs: Date.parse(e.at) })))?.state ?? null;
      } catch (error) {
        replayError = (error as Error).message;
      }
      const matchesKv = replayError === null && rebuilt === (found?.record.state ?? null) && events.length === (found?.record.seq ?? 0);
      const chainBreak = verifyChain(rows);
      const matchesDb =
        replayError === null &&
        chainBreak === null &&
        rows.length === events.length &&
        rows.every((row, i) => row.transitionId === events[i]?.transitionId && row.hash === events[i]?.hash);

      const inWindow = events.filter((e) => {
        const atMs = Date.parse(e.at);
        return (req.from === undefined || atMs >= req.from) && (req.to === undefined || atMs <= req.to);
      });
      return {
        userId: req.userId,
        transitions: inWindow.map((e) => ({
          from: e.from,
          to: e.to,
          reasonCode: e.reasonCode,
          authority: e.authority,
          actorId: e.actorId,
          at: e.at,
          transitionId: e.transitionId,
        })),
        matchesKv,
        matchesDb,
        state: rebuilt,
        ...(replayError ? { replayError } : {}),
        ...(chainBreak ? { chainBreak } : {}),
      };
    },
  };
}

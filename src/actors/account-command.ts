import { z } from 'zod';
import { accountStates, authorities, type AccountState } from '../fsm/index.js';
import { actorIdSchema, commandIdSchema, reasonCodeSchema, userIdSchema } from './identifiers.js';

/** A command on `acct.cmd.<partition>.<userId>`; the JetStream Nats-Msg-Id is its commandId. */
export const accountCommandSchema = z.object({
  commandId: commandIdSchema,
  userId: userIdSchema,
  /** `create` fails with CONFLICT if the account exists; `transition` with NOT_FOUND if it does not. */
  kind: z.enum(['create', 'transition']),
  target: z.enum(accountStates),
  authority: z.enum(authorities),
  reasonCode: reasonCodeSchema,
  actorId: actorIdSchema,
  /** Core NATS subject the outcome is published to once the command is durable (optional). */
  replyTo: z.string().min(1).max(256).optional(),
});
export type AccountCommand = z.infer<typeof accountCommandSchema>;

export type CommandErrorCode = 'FORBIDDEN_TRANSITION' | 'CONFLICT' | 'NOT_FOUND';

export type CommandOutcome =
  | { ok: true; userId: string; from: AccountState | null; to: AccountState; revision: number; transitionId: string }
  | { ok: false; userId: string; error: { code: CommandErrorCode; message: string; reason?: string } };

export const commandOutcomeSchema: z.ZodType<CommandOutcome> = z.union([
  z.object({
    ok: z.literal(true),
    userId: z.string(),
    from: z.enum(accountStates).nullable(),
    to: z.enum(accountStates),
    revision: z.number().int(),
    transitionId: z.string(),
  }),
  z.object({
    ok: z.literal(false),
    userId: z.string(),
    error: z.object({
      code: z.enum(['FORBIDDEN_TRANSITION', 'CONFLICT', 'NOT_FOUND']),
      message: z.string(),
      reason: z.string().optional(),
    }),
  }),
]);

/** What the engine publishes to a command's `replyTo`: its outcome, or INTERNAL when it had to be parked. */
export type CommandReply =
  | CommandOutcome
  | { ok: false; userId: string; error: { code: 'INTERNAL'; message: string } };

export const commandReplySchema: z.ZodType<CommandReply> = z.union([
  commandOutcomeSchema,
  z.object({ ok: z.literal(false), userId: z.string(), error: z.object({ code: z.literal('INTERNAL'), message: z.string() }) }),
]);

import type { AccountCommandClient } from '../../actors/command-client.js';
import type { LiveBreak } from '../breaks/break.js';
import type { OutboxEffect } from '../breaks/outbox.js';
import { meDbBoundary } from './checkpoint.js';
import { balanceKind } from './judgement.js';

/** A balance break freezes its account (FSM → suspended, authority system), once: the command id is the break's. */
export function freezeEffects(commands: AccountCommandClient | undefined, live: LiveBreak): OutboxEffect[] {
  if (live.kind !== balanceKind || !live.userId || !commands) return [];
  const command = {
    commandId: `freeze:${live.id}`,
    userId: live.userId,
    kind: 'transition' as const,
    target: 'suspended' as const,
    authority: 'system' as const,
    reasonCode: 'recon_break_me_db',
    actorId: `recon:${meDbBoundary}:${live.id}`,
  };
  return [{ effect: 'command', subject: commands.subjectOf(live.userId), payload: command, msgId: command.commandId }];
}

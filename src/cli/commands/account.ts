import type { Command } from 'commander';
import { z } from 'zod';
import { actorIdSchema, commandIdSchema, reasonCodeSchema, userIdSchema } from '../../actors/identifiers.js';
import { accountStates, authorities } from '../../fsm/index.js';
import { withAdmin } from '../lazy.js';
import { checked } from '../arguments.js';
import { emit, fields, table, withCommon, type CommonOptions } from '../output.js';

interface AccountView { userId: string; state: string; revision: number; capabilities?: { trade: boolean; withdraw: boolean; deposit: boolean } }
interface TransitionView { userId: string; from: string; to: string; revision: number; transitionId: string }
interface HistoryView { userId: string; transitions: Array<{ from: string | null; to: string; reasonCode: string; authority: string; actorId: string; at: string }> }

const yesNo = (v: boolean | undefined): string => (v ? 'yes' : 'no');

export function accountCommands(program: Command): void {
  const account = program.command('account').description('create, read and move accounts through the FSM')
    .addHelpText('after', '\nExample:\n  $ recon account get alice\n');

  withCommon(account.command('create').argument('<userId>').description('open an account (pending_kyc)'), 'recon account create alice')
    .action(async (userId: string, options: CommonOptions) => {
      const body = { userId: checked(userIdSchema, 'userId', userId) };
      const result = (await withAdmin((admin) => admin.request('account.create', body))) as AccountView;
      emit(options, result, (r) => `${r.userId} created: ${r.state} (revision ${r.revision})`);
    });

  withCommon(account.command('get').argument('<userId>').description('current state and capabilities'), 'recon account get alice')
    .action(async (userId: string, options: CommonOptions) => {
      const body = { userId: checked(userIdSchema, 'userId', userId) };
      const result = (await withAdmin((admin) => admin.request('account.get', body))) as AccountView;
      emit(options, result, (r) => fields([
        ['account', r.userId], ['state', r.state], ['revision', r.revision],
        ['trade', yesNo(r.capabilities?.trade)], ['withdraw', yesNo(r.capabilities?.withdraw)], ['deposit', yesNo(r.capabilities?.deposit)],
      ]));
    });

  withCommon(
    account.command('transition').argument('<userId>').argument('<target>', `one of ${accountStates.join(', ')}`)
      .requiredOption('--reason <code>', 'reason code, e.g. kyc_pass, sanctions_hit')
      .requiredOption('--authority <authority>', `who decides: ${authorities.join(' | ')}`)
      .requiredOption('--actor <id>', 'who asks (a person or a service)')
      .option('--command-id <id>', 'idempotency key: the same id twice applies once')
      .description('move an account along an allowed FSM edge'),
    'recon account transition alice kyc_approved --reason kyc_pass --authority system --actor kyc-svc',
  ).action(async (userId: string, target: string, options: CommonOptions & { reason: string; authority: string; actor: string; commandId?: string }) => {
    const body = {
      userId: checked(userIdSchema, 'userId', userId),
      target: checked(z.enum(accountStates), 'target state', target),
      reasonCode: checked(reasonCodeSchema, '--reason', options.reason),
      authority: checked(z.enum(authorities), '--authority', options.authority),
      actorId: checked(actorIdSchema, '--actor', options.actor),
      ...(options.commandId ? { commandId: checked(commandIdSchema, '--command-id', options.commandId) } : {}),
    };
    const result = (await withAdmin((admin) => admin.request('account.transition', body))) as TransitionView;
    emit(options, result, (r) => `${r.userId}: ${r.from} → ${r.to} (revision ${r.revision}, transition ${r.transitionId})`);
  });

  withCommon(account.command('history').argument('<userId>').description('every accepted transition, from the audit table'), 'recon account history alice')
    .action(async (userId: string, options: CommonOptions) => {
      const body = { userId: checked(userIdSchema, 'userId', userId) };
      const result = (await withAdmin((admin) => admin.request('account.history', body))) as HistoryView;
      emit(options, result, (r) => table(['at', 'from', 'to', 'reason', 'authority', 'actor'],
        r.transitions.map((t) => [t.at, t.from ?? '(new)', t.to, t.reasonCode, t.authority, t.actorId])));
    });
}

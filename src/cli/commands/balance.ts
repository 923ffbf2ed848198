import type { Command } from 'commander';
import { z } from 'zod';
import { actorIdSchema, userIdSchema } from '../../actors/identifiers.js';
import { currencySchema } from '../../adapters/matching-engine/contract.js';
import { withAdmin } from '../lazy.js';
import { checked } from '../arguments.js';
import { emit, withCommon, type CommonOptions } from '../output.js';

const signedDecimal = z.string().regex(/^-?\d+(\.\d{1,18})?$/, 'expected a signed decimal string with at most 18 decimals, e.g. -0.5 or 100').refine((a) => !/^-?0+(\.0+)?$/.test(a), 'an adjustment of zero posts nothing');
/** The engine's own currency schema: the CLI refuses exactly what the engine would (a narrower check hid real ledger currencies). */
const currency = currencySchema;
const idempotencyKey = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, '1–128 characters of A-Z a-z 0-9 _ . : -');

export function balanceCommands(program: Command): void {
  const balance = program.command('balance').description('admin balance adjustments (posted by the close as ledger entries)')
    .addHelpText('after', '\nExample:\n  $ recon balance adjust alice BTC 0.5 --reason "deposit credited twice" --actor ops-1 --key adj-1\n');
  withCommon(
    balance.command('adjust').argument('<userId>').argument('<currency>').argument('<amount>', 'signed decimal, e.g. 0.5 or -0.5')
      .requiredOption('--reason <text>', 'why (kept beside the entry)')
      .requiredOption('--actor <id>', 'who asks')
      .requiredOption('--key <idempotencyKey>', 'the same key twice posts once')
      .description('post one balanced journal: the user\'s leg and house:adjustments the opposite'),
    'recon balance adjust alice BTC -0.00010000 --reason "fee refund reversal" --actor ops-1 --key adj-2026-001',
  ).action(async (userId: string, currencyCode: string, amount: string, options: CommonOptions & { reason: string; actor: string; key: string }) => {
    const body = {
      userId: checked(userIdSchema, 'userId', userId),
      currency: checked(currency, 'currency', currencyCode),
      amount: checked(signedDecimal, 'amount', amount),
      reason: checked(z.string().min(1).max(1_000), '--reason', options.reason),
      actorId: checked(actorIdSchema, '--actor', options.actor),
      idempotencyKey: checked(idempotencyKey, '--key', options.key),
    };
    const result = (await withAdmin((admin) => admin.request('balance.adjust', body))) as { entryId: string | number };
    emit(options, result, (r) => `adjustment posted: entry ${r.entryId} (${body.userId} ${body.currency} ${body.amount})`);
  });
}

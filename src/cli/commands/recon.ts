import type { Command } from 'commander';
import { z } from 'zod';
import { actorIdSchema } from '../../actors/identifiers.js';
import { boundaryWords } from '../../observability/live-view.js';
import { withAdmin } from '../lazy.js';
import { checked } from '../arguments.js';
import { CliError, exitCodes } from '../exit-codes.js';
import { emit, table, withCommon, type CommonOptions } from '../output.js';

interface StatusView { boundaries: Array<{ name: string; enabled?: boolean; lastDeltaAt: string | null; openBreaks: number; reason?: string }> }
interface BreakView { breakId: string; boundary: string; kind: string; userId: string | null; currency: string | null; left: string | null; right: string | null; delta: string | null; status: string; firstSeenAt: string }


const breakId = z.string().uuid('a break id is a UUID (see recon breaks)');
const boundary = z.string().regex(/^[a-z_]{1,32}$/, 'a boundary name like me_db');

export function reconCommands(program: Command): void {
  withCommon(program.command('status').description('each boundary: last delta, open breaks (admin.recon.status)'), 'recon status')
    .action(async (options: CommonOptions) => {
      const result = (await withAdmin((admin) => admin.request('recon.status', {}))) as StatusView;
      emit(options, result, (r) => table(['boundary', 'what', 'state', 'last delta', 'open breaks'],
        r.boundaries.map((b) => [b.name, boundaryWords[b.name] ?? '', b.enabled === false ? `disabled: ${b.reason ?? ''}` : 'running', b.lastDeltaAt, b.openBreaks])));
    });

  withCommon(program.command('breaks').option('--boundary <name>', 'only this boundary').description('live breaks (admin.recon.breaks)'), 'recon breaks --boundary me_db')
    .action(async (options: CommonOptions & { boundary?: string }) => {
      const body = options.boundary ? { boundary: checked(boundary, '--boundary', options.boundary) } : {};
      const result = (await withAdmin((admin) => admin.request('recon.breaks', body))) as { breaks: BreakView[] };
      emit(options, result, (r) => r.breaks.length === 0 ? 'no live breaks' : table(['break', 'boundary', 'kind', 'user', 'currency', 'left', 'right', 'delta', 'status', 'since'],
        r.breaks.map((b) => [b.breakId, b.boundary, b.kind, b.userId, b.currency, b.left, b.right, b.delta, b.status, b.firstSeenAt])));
    });

  withCommon(program.command('parked').option('--limit <n>', 'at most this many, newest first (1–1000)', '100').description('messages parked after their last attempt (admin.parked.list)'), 'recon parked --limit 20')
    .action(async (options: CommonOptions & { limit: string }) => {
      const body = { limit: checked(z.coerce.number().int().min(1).max(1_000), '--limit', options.limit) };
      const result = (await withAdmin((admin) => admin.request('parked.list', body))) as { parked: Array<{ stream: string; streamSeq: number; subject: string; error: string; attempts: number; parkedAt: string }> };
      emit(options, result, (r) => r.parked.length === 0 ? 'nothing parked' : table(['parked at', 'stream', 'seq', 'subject', 'attempts', 'error'],
        r.parked.map((m) => [m.parkedAt, m.stream, m.streamSeq, m.subject, m.attempts, m.error])));
    });

  withCommon(
    program.command('rebaseline').argument('<boundary>', 'e.g. me_db')
      .requiredOption('--actor <id>', 'who acts')
      .requiredOption('--reason <text>', 'why (e.g. the engine sequence was fixed)')
      .description('after a sequence_jump / sequence_regression page: re-seed the boundary\'s left side from its source\'s snapshot (admin.recon.rebaseline)'),
    'recon rebaseline me_db --actor ops-1 --reason "engine sequence fixed"',
  ).action(async (name: string, options: CommonOptions & { actor: string; reason: string }) => {
    const body = { boundary: checked(boundary, 'boundary', name), actorId: checked(actorIdSchema, '--actor', options.actor), reason: checked(z.string().min(1).max(1_000), '--reason', options.reason) };
    const result = (await withAdmin((admin) => admin.request('recon.rebaseline', body))) as Record<string, unknown>;
    emit(options, result, (r) => `${String(r.boundary)} re-baselined: ${JSON.stringify(Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'boundary')))}`);
  });

  const act = (name: 'ack' | 'accept', endpoint: 'recon.break.acknowledge' | 'recon.break.accept', description: string, example: string) => {
    const command = program.command(name).argument('<breakId>')
      .requiredOption('--actor <id>', 'who acts')
      .option('--boundary <name>', 'the break\'s boundary (looked up when omitted)')
      .description(description);
    if (name === 'accept') command.requiredOption('--reason <text>', 'why the difference is tolerated');
    else command.option('--reason <text>', 'a note');
    withCommon(command, example).action(async (id: string, options: CommonOptions & { actor: string; boundary?: string; reason?: string }) => {
      const body = {
        breakId: checked(breakId, 'breakId', id),
        actorId: checked(actorIdSchema, '--actor', options.actor),
        ...(options.reason !== undefined ? { reason: checked(z.string().min(1).max(1_000), '--reason', options.reason) } : {}),
      };
      const result = (await withAdmin(async (admin) => {
        const where = options.boundary ? checked(boundary, '--boundary', options.boundary) : await boundaryOf(await admin.request('recon.breaks', {}) as { breaks: BreakView[] }, body.breakId);
        return admin.request(endpoint, { ...body, boundary: where });
      })) as BreakView;
      emit(options, result, (r) => `break ${r.breakId} (${r.boundary} ${r.kind} ${[r.userId, r.currency].filter(Boolean).join(' ')}) is now ${r.status}`);
    });
  };
  act('ack', 'recon.break.acknowledge', 'acknowledge a live break: someone is on it (no more pages while it lasts)', 'recon ack 0b6c… --actor ops-1');
  act('accept', 'recon.break.accept', 'accept a live break: known and tolerated, with a reason (no longer counts as open)', 'recon accept 0b6c… --actor ops-1 --reason "exchange fee rounding, ticket OPS-12"');
}

async function boundaryOf(list: { breaks: BreakView[] }, id: string): Promise<string> {
  const found = list.breaks.find((b) => b.breakId === id);
  if (!found) throw new CliError(exitCodes.engineError, 'NOT_FOUND', `no live break ${id} (see recon breaks)`);
  return found.boundary;
}

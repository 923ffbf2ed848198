import type { Command } from 'commander';
import { userIdSchema } from '../../actors/identifiers.js';
import { withAdmin } from '../lazy.js';
import { checked } from '../arguments.js';
import { exitCodes, usageError } from '../exit-codes.js';
import { bad, emit, fields, ok, table, withCommon, type CommonOptions } from '../output.js';
import { progressBar } from '../progress.js';

interface ReplayView {
  userId: string;
  transitions: Array<{ from: string | null; to: string; reasonCode: string; authority: string; actorId: string; at: string; transitionId: string }>;
  matchesKv: boolean;
  matchesDb: boolean;
  state?: string | null;
  replayError?: string;
  chainBreak?: { seq: number; reason: string };
}
interface FirstDifference { seq: number; transitionId: string | null; reason: string }
interface VerifyPage { accounts: number; matching: number; mismatched: Array<{ userId: string; firstDifference: FirstDifference }>; total: number; next: string | null }

const instant = (what: string, value: string | undefined): string | undefined => {
  if (value === undefined) return undefined;
  if (Number.isNaN(Date.parse(value))) throw usageError(`${what} "${value}": expected a date (YYYY-MM-DD) or an ISO time with offset`);
  return value;
};

/** Accounts verified per request: small enough for a steady progress bar, large enough to be quick. */
const verifyPageSize = 100;
/** A page may replay up to `verifyPageSize` accounts' events. */
const verifyPageTimeoutMs = 120_000;

export function auditCommands(program: Command): void {
  const audit = program.command('audit').description('rebuild accounts from the event stream and check them against KV and the audit table')
    .addHelpText('after', '\nExample:\n  $ recon audit verify\n');

  withCommon(
    audit.command('replay').argument('<userId>')
      .option('--from <time>', 'only show transitions at or after (YYYY-MM-DD or ISO time)')
      .option('--to <time>', 'only show transitions at or before')
      .description('one account rebuilt from its JetStream events, compared with KV and the audit table (admin.audit.replay)'),
    'recon audit replay alice --from 2026-11-01',
  ).action(async (userId: string, options: CommonOptions & { from?: string; to?: string }) => {
    const from = instant('--from', options.from);
    const to = instant('--to', options.to);
    const body = { userId: checked(userIdSchema, 'userId', userId), ...(from ? { from } : {}), ...(to ? { to } : {}) };
    const result = (await withAdmin((admin) => admin.request('audit.replay', body))) as ReplayView;
    emit(options, result, (r) => [
      table(['at', 'from', 'to', 'reason', 'authority', 'actor'], r.transitions.map((t) => [t.at, t.from ?? '(new)', t.to, t.reasonCode, t.authority, t.actorId])),
      fields([
        ['rebuilt state', r.state ?? '-'],
        ['matches KV', r.matchesKv ? ok('yes') : bad('NO')],
        ['matches audit table', r.matchesDb ? ok('yes') : bad(`NO${r.chainBreak ? ` (transition ${r.chainBreak.seq}: ${r.chainBreak.reason})` : ''}`)],
        ...(r.replayError ? [['replay error', bad(r.replayError)] as [string, unknown]] : []),
      ]),
    ].join('\n'));
    if (!result.matchesKv || !result.matchesDb) process.exitCode = exitCodes.verificationFailed;
  });

  withCommon(
    audit.command('verify')
      .description('replay every account from the event stream and compare with KV and the audit table, hash chain included (admin.audit.verify); exit 1 naming the first differing transition of each bad account'),
    'recon audit verify --json',
  ).action(async (options: CommonOptions) => {
    const bar = progressBar(!options.json, 'accounts');
    const summary = await withAdmin(async (admin) => {
      const total = { accounts: 0, matching: 0, mismatched: [] as VerifyPage['mismatched'] };
      let after: string | null = null;
      try {
        do {
          const page = (await admin.request('audit.verify', { limit: verifyPageSize, ...(after ? { after } : {}) }, verifyPageTimeoutMs)) as VerifyPage;
          total.accounts += page.accounts;
          total.matching += page.matching;
          total.mismatched.push(...page.mismatched);
          bar.update(total.accounts, Math.max(page.total, total.accounts), page.mismatched.length > 0 ? `${total.mismatched.length} mismatched` : '');
          after = page.next;
        } while (after !== null);
      } finally {
        bar.stop();
      }
      return total;
    });
    emit(options, summary, (s) => [
      `${s.accounts} accounts replayed: ${ok(`${s.matching} matching`)}, ${s.mismatched.length > 0 ? bad(`${s.mismatched.length} mismatched`) : '0 mismatched'}`,
      ...(s.mismatched.length > 0 ? [table(['account', 'transition', 'first difference'], s.mismatched.map((m) => [m.userId, `${m.firstDifference.seq}${m.firstDifference.transitionId ? ` (${m.firstDifference.transitionId})` : ''}`, m.firstDifference.reason]))] : []),
    ].join('\n'));
    if (summary.mismatched.length > 0) process.exitCode = exitCodes.verificationFailed;
  });
}

import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { userIdSchema } from '../../actors/identifiers.js';
import { currencySchema } from '../../adapters/matching-engine/contract.js';
import { eodStepNames } from '../../eod/report/report-schema.js';
import { withAdmin } from '../lazy.js';
import { checked } from '../arguments.js';
import { CliError, exitCodes } from '../exit-codes.js';
import { emit, fields, table, withCommon, type CommonOptions } from '../output.js';
import { progressBar } from '../progress.js';

export const businessDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD').refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar date');
/** The engine's own currency schema: the CLI refuses exactly what the engine would (a narrower check hid real ledger currencies). */
const currency = currencySchema;

interface StepView { name: string; status: string; attempts?: number; startedAt?: string | null; endedAt?: string | null; error?: string }
interface RunView { date: string; status: string; steps: StepView[] }

/** The engine answers admin.eod.run within 60 s (then with status "running"); leave room for the network. */
const eodRunTimeoutMs = 75_000;
const pollMs = 1_000;
const finalStatuses = new Set(['sealed', 'failed']);

function stepsTable(r: RunView): string {
  return `${r.date}: ${r.status}\n${table(['step', 'status', 'attempts', 'started', 'ended', 'error or note'],
    r.steps.map((s) => [s.name, s.status, s.attempts, s.startedAt, s.endedAt, s.error]))}`;
}

function writeOut(path: string | undefined, doc: unknown): void {
  if (path) writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
}

export function eodCommands(program: Command): void {
  const eod = program.command('eod').description('the end-of-day close: run, follow, read the sealed report and proofs')
    .addHelpText('after', '\nExample:\n  $ recon eod status 2026-12-01\n');

  withCommon(
    eod.command('run').argument('<date>', 'business date YYYY-MM-DD')
      .option('--no-wait', 'answer as soon as the engine does (it waits up to 60 s), without following the run to its end')
      .description('run (or resume) the close of a business date; follows it with a progress bar until sealed or failed'),
    'recon eod run 2026-12-01',
  ).action(async (date: string, options: CommonOptions & { wait: boolean }) => {
    const body = { date: checked(businessDate, 'date', date) };
    const bar = progressBar(!options.json, 'steps');
    const result = await withAdmin(async (admin) => {
      let done = false;
      const follow = (async () => {
        while (!done) {
          await sleep(pollMs);
          if (done) break;
          const status = (await admin.request('eod.status', body).catch(() => null)) as RunView | null;
          if (status) bar.update(status.steps.filter((s) => s.status === 'completed' || s.status === 'skipped').length, eodStepNames.length, status.steps.find((s) => s.status === 'running')?.name ?? status.status);
        }
      })();
      try {
        let run = (await admin.request('eod.run', body, eodRunTimeoutMs)) as RunView;
        while (options.wait && !finalStatuses.has(run.status)) {
          await sleep(pollMs);
          run = (await admin.request('eod.status', body)) as RunView;
        }
        // The run's answer names each step's status only; the status has attempts, times and errors.
        return options.wait ? ((await admin.request('eod.status', body)) as RunView) : run;
      } finally {
        done = true;
        await follow;
        bar.stop();
      }
    });
    emit(options, result, stepsTable);
    if (result.status === 'failed') process.exitCode = exitCodes.verificationFailed;
  });

  withCommon(eod.command('status').argument('<date>').description('the close of a date, step by step (admin.eod.status)'), 'recon eod status 2026-12-01')
    .action(async (date: string, options: CommonOptions) => {
      const body = { date: checked(businessDate, 'date', date) };
      const result = (await withAdmin((admin) => admin.request('eod.status', body))) as RunView;
      emit(options, result, stepsTable);
    });

  withCommon(
    eod.command('report').argument('<date>').option('--out <file>', 'also write the signed report document to this file (input of recon report verify)')
      .description('the sealed, signed report of a date (admin.eod.report)'),
    'recon eod report 2026-12-01 --out report-2026-12-01.json',
  ).action(async (date: string, options: CommonOptions & { out?: string }) => {
    const body = { date: checked(businessDate, 'date', date) };
    const result = (await withAdmin((admin) => admin.request('eod.report', body))) as { date: string; sha256: string; prevSha256: string | null; signature: string; publicKey: string; report: { liabilities?: Array<{ currency: string; total: string; leafCount: number; rootHash: string }>; breaks?: unknown[] } };
    writeOut(options.out, result);
    emit(options, result, (r) => [
      fields([['date', r.date], ['sha256', r.sha256], ['prevSha256', r.prevSha256], ['publicKey', r.publicKey], ['signature', `${r.signature.slice(0, 32)}…`], ['breaks', r.report.breaks?.length ?? 0], ...(options.out ? [['written to', options.out] as [string, unknown]] : [])]),
      table(['currency', 'liabilities total', 'users', 'root hash'], (r.report.liabilities ?? []).map((l) => [l.currency, l.total, l.leafCount, l.rootHash])),
    ].join('\n'));
  });

  withCommon(
    eod.command('proof').argument('<date>').argument('<userId>').argument('<currency>').option('--out <file>', 'also write the proof to this file (input of recon proof verify)')
      .description('a user\'s inclusion proof in the liabilities tree (admin.eod.proof)'),
    'recon eod proof 2026-12-01 alice BTC --out alice-BTC.json',
  ).action(async (date: string, userId: string, currencyCode: string, options: CommonOptions & { out?: string }) => {
    const body = { date: checked(businessDate, 'date', date), userId: checked(userIdSchema, 'userId', userId), currency: checked(currency, 'currency', currencyCode) };
    const result = (await withAdmin((admin) => admin.request('eod.proof', body))) as { balance: string; leafIndex: number; path: unknown[]; rootHash: string; total: string };
    writeOut(options.out, result);
    emit(options, result, (r) => fields([['date', body.date], ['user', body.userId], ['currency', body.currency], ['balance', r.balance], ['leaf', r.leafIndex], ['path', `${r.path.length} siblings`], ['root', r.rootHash], ['total', r.total], ...(options.out ? [['written to', options.out] as [string, unknown]] : [])]));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}


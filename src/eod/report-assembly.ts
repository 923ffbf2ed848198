import type { Cutover, BusinessWindow } from './business-date.js';
import type { StepRow } from './run-store.js';
import type { EodReport } from './report/index.js';
import type { CutBreak, EodStepName, JsonObject } from './steps/step.js';

/** What a completed step stored as its output. */
export interface StepOutput {
  figures: JsonObject;
  breaks: CutBreak[];
}

export function stepOutputOf(row: StepRow | undefined): StepOutput | null {
  const output = row?.output as Partial<StepOutput> | null | undefined;
  if (!output || typeof output !== 'object' || !output.figures) return null;
  return { figures: output.figures, breaks: output.breaks ?? [] };
}

/**
 * The report of docs/contract.md §10, from the steps' outputs only: every figure is derived from the
 * cut, none from when the run happened (no wall-clock times, no attempt counts), so the same
 * day closed twice, on time or late, on one instance or after a failover, seals the same bytes.
 */
export function assembleReport(input: {
  date: string;
  prevSha256: string | null;
  window: BusinessWindow;
  cutover: Cutover;
  stepNames: readonly EodStepName[];
  rows: Map<string, StepRow>;
}): EodReport {
  const { rows } = input;
  const outputOf = (name: EodStepName) => stepOutputOf(rows.get(name));
  const snapshot = outputOf('balance_snapshot');
  const custody = outputOf('recon_db_custody');
  const chain = outputOf('recon_db_chain');
  const meDb = outputOf('recon_me_db');
  const steps: EodReport['steps'] = input.stepNames.map((name) => {
    const row = rows.get(name);
    if (!row) throw new Error(`step ${name} has no row`);
    if (row.status === 'skipped') return { name, status: 'skipped', figures: {}, reason: row.error ?? 'skipped' };
    return { name, status: row.status, figures: outputOf(name)?.figures ?? {} };
  });
  const breaks = input.stepNames.flatMap((name) => (outputOf(name)?.breaks ?? []).map((b) => ({ step: name, ...b })));
  const polls = (custody?.figures.polls ?? []) as Array<{ polledAt: string }>;
  const custodyPolledAt = polls.length > 0 ? polls.map((p) => p.polledAt).sort().at(-1) ?? null : null;
  const block = chain?.figures.block as { number: number; hash: string } | undefined;
  const inFlight: EodReport['inFlight'] = [];
  for (const c of (custody?.figures.currencies ?? []) as Array<{ currency: string; inFlight: Record<string, string> }>) {
    for (const [kind, amount] of Object.entries(c.inFlight)) if (amount !== '0') inFlight.push({ kind, currency: c.currency, amount, boundary: 'db_custody' });
  }
  const cutoverAt = new Date(input.window.endMs).toISOString();
  return {
    date: input.date,
    prevSha256: input.prevSha256,
    cut: {
      cutoverAt,
      windowStart: new Date(input.window.startMs).toISOString(),
      timezone: input.cutover.zone,
      cutoverTime: input.cutover.time,
      engineSeq: (meDb?.figures.engineSeq ?? snapshot?.figures.engineSeq ?? null) as number | null,
      ledgerWatermark: (meDb?.figures.ledgerLastId ?? snapshot?.figures.ledgerLastId ?? null) as string | null,
      custodyPolledAt,
      chainBlock: block ? { number: block.number, hash: block.hash } : null,
      custodyPolls: custody?.figures.polls ?? null,
    },
    steps,
    breaks,
    liabilities: (snapshot?.figures.liabilities ?? []) as EodReport['liabilities'],
    inFlight,
    // The instant the report describes (its cut), not when it ran: the same day seals the same bytes.
    generatedAt: cutoverAt,
  };
}

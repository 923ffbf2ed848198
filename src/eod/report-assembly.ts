import type { Cutover, BusinessWindow } from './business-date.js';
import type { StepRow } from './run-store.js';
import type { CutBreak, EodStepName, JsonObject, JsonValue } from './steps/step.js';

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
 * The report of DESIGN.md §7, from the steps' outputs only: every figure is derived from the
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
}): JsonObject {
  const { rows } = input;
  const outputOf = (name: EodStepName) => stepOutputOf(rows.get(name));
  const snapshot = outputOf('balance_snapshot');
  const custody = outputOf('recon_db_custody');
  const chain = outputOf('recon_db_chain');
  const meDb = outputOf('recon_me_db');
  const steps: JsonValue[] = input.stepNames.map((name): JsonObject => {
    const row = rows.get(name);
    if (!row) throw new Error(`step ${name} has no row`);
    if (row.status === 'skipped') return { name, status: 'skipped', reason: row.error ?? 'skipped' };
    const output = outputOf(name);
    return { name, status: row.status, figures: output?.figures ?? {} };
  });
  const breaks = input.stepNames.flatMap((name) => (outputOf(name)?.breaks ?? []).map((b) => ({ step: name, ...b }))) as unknown as JsonValue[];
  const custodyCurrencies = (custody?.figures.currencies ?? []) as JsonObject[];
  return {
    date: input.date,
    prevSha256: input.prevSha256,
    cut: {
      timezone: input.cutover.zone,
      cutoverTime: input.cutover.time,
      start: new Date(input.window.startMs).toISOString(),
      end: new Date(input.window.endMs).toISOString(),
      engineSeq: meDb?.figures.engineSeq ?? snapshot?.figures.engineSeq ?? null,
      ledgerLastId: meDb?.figures.ledgerLastId ?? snapshot?.figures.ledgerLastId ?? null,
      custodyPolls: custody?.figures.polls ?? null,
      chainBlock: chain?.figures.block ?? null,
    },
    steps,
    breaks,
    liabilities: snapshot?.figures.liabilities ?? [],
    inFlight: {
      custody: custodyCurrencies.map((c) => ({ currency: c.currency ?? null, ...(c.inFlight as JsonObject | undefined ?? {}) })),
      note: 'pending deposits and withdrawals at the cut widen each asset\'s custody tolerance; unbonding stake is not reported by the staking service',
    },
  };
}

import { z } from 'zod';

/**
 * The sealed report's body (docs/contract.md §10) and the `admin.eod.report` answer that carries it.
 * Objects are loose (extra fields are kept and signed) so steps can add figures without a
 * schema change; what the verifier, the HTML page and users rely on is required here.
 */

/** docs/contract.md §9: these exact strings, in `eod_runs`, events and the report, in this order. */
export const eodStepNames = [
  'balance_snapshot',
  'pnl',
  'fee_accrual',
  'volume_rollup',
  'staking_rewards',
  'recon_me_db',
  'recon_db_custody',
  'recon_db_chain',
  'sanctions',
  'kyc_reactivation',
  'admin_adjustments',
] as const;
export type EodStepName = (typeof eodStepNames)[number];

export const eodStepStatuses = ['completed', 'failed', 'skipped', 'pending', 'running'] as const;
export type EodStepStatus = (typeof eodStepStatuses)[number];

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');
/** Amounts: decimal strings, signed where a figure can be negative (P&L, a break's delta). */
const decimalString = z.string().regex(/^-?\d+(\.\d+)?$/, 'must be a decimal string');
const unsignedDecimal = z.string().regex(/^\d+(\.\d+)?$/, 'must be a non-negative decimal string');
const instant = z.iso.datetime({ offset: true });
const businessDate = z.iso.date();

/** The one cut every step computes from; a boundary that is disabled has null (or omits it). */
export const eodCutSchema = z.looseObject({
  /** D's end: the cutover instant. */
  cutoverAt: instant,
  /** D's start (the previous cutover). */
  windowStart: instant.optional(),
  /** EOD_TIMEZONE (IANA) and EOD_CUTOVER_TIME (HH:MM). */
  timezone: z.string().min(1),
  cutoverTime: z.string().regex(/^\d{2}:\d{2}$/).optional(),
  /** The engine's seq of the last balance event with ts before the cutover. */
  engineSeq: z.number().int().nonnegative().nullable().optional(),
  /** How far the ledger was read (rows with created_at before the cutover): an id or a horizon. */
  ledgerWatermark: z.union([z.string(), z.number().int()]).nullable().optional(),
  /** The custody poll after the cutover. */
  custodyPolledAt: instant.nullable().optional(),
  /** The last block before the cutover with N confirmations. */
  chainBlock: z.object({ number: z.number().int().nonnegative(), hash: z.string().min(1) }).nullable().optional(),
});
export type EodCut = z.infer<typeof eodCutSchema>;

export const eodStepReportSchema = z.looseObject({
  name: z.enum(eodStepNames),
  status: z.enum(eodStepStatuses),
  /** The step's figures: JSON values, amounts as decimal strings. */
  figures: z.record(z.string(), z.json()),
  /** Why a step was skipped or failed. */
  reason: z.string().optional(),
});
export type EodStepReport = z.infer<typeof eodStepReportSchema>;

export const eodBreakSchema = z.looseObject({
  boundary: z.string().min(1),
  kind: z.string().min(1),
  breakId: z.string().optional(),
  userId: z.string().nullable().optional(),
  currency: z.string().nullable().optional(),
  left: decimalString.nullable().optional(),
  right: decimalString.nullable().optional(),
  delta: decimalString.nullable().optional(),
  firstSeenAt: instant.optional(),
  status: z.string().optional(),
});
export type EodBreak = z.infer<typeof eodBreakSchema>;

export const eodLiabilitySchema = z.object({
  currency: z.string().min(1),
  rootHash: hex64,
  total: unsignedDecimal,
  leafCount: z.number().int().nonnegative(),
});
export type EodLiability = z.infer<typeof eodLiabilitySchema>;

/** An unconfirmed deposit, pending withdrawal or unbonding stake netted out of the cut. */
export const eodInFlightSchema = z.looseObject({
  kind: z.string().min(1),
  currency: z.string().min(1),
  amount: decimalString,
  boundary: z.string().optional(),
  reference: z.string().optional(),
});
export type EodInFlight = z.infer<typeof eodInFlightSchema>;

/** JSON numbers in a signed report are safe integers only: amounts are strings, and a float or a big integer would not survive jsonb and JCS unchanged. */
function unsafeNumberPath(value: unknown, path: string): string | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? null : path;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = unsafeNumberPath(item, `${path}[${i}]`);
      if (found) return found;
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const found = unsafeNumberPath(item, `${path}.${key}`);
      if (found) return found;
    }
  }
  return null;
}

export const eodReportSchema = z
  .looseObject({
    date: businessDate,
    /** The previous business date's sha256, or null for the first report. */
    prevSha256: hex64.nullable(),
    cut: eodCutSchema,
    steps: z.array(eodStepReportSchema),
    breaks: z.array(eodBreakSchema),
    liabilities: z.array(eodLiabilitySchema),
    inFlight: z.array(eodInFlightSchema),
    generatedAt: instant,
  })
  .superRefine((report, ctx) => {
    const names = report.steps.map((s) => s.name);
    for (const name of eodStepNames) {
      const count = names.filter((n) => n === name).length;
      if (count !== 1) ctx.addIssue({ code: 'custom', path: ['steps'], message: `step ${name} appears ${count} times (exactly once expected)` });
    }
    const currencies = report.liabilities.map((l) => l.currency);
    const repeated = currencies.find((c, i) => currencies.indexOf(c) !== i);
    if (repeated !== undefined) ctx.addIssue({ code: 'custom', path: ['liabilities'], message: `currency ${repeated} appears twice` });
    const unsafe = unsafeNumberPath(report, 'report');
    if (unsafe) ctx.addIssue({ code: 'custom', path: [], message: `${unsafe} is a number that is not a safe integer (amounts are decimal strings)` });
  });
export type EodReport = z.infer<typeof eodReportSchema>;

/** The `admin.eod.report` answer: the report and its seal. */
export const sealedReportSchema = z.object({
  date: businessDate,
  sha256: hex64,
  prevSha256: hex64.nullable(),
  signature: z.string().regex(/^[0-9a-f]{128}$/, 'must be 128 lowercase hex characters (an Ed25519 signature)'),
  publicKey: hex64,
  report: z.record(z.string(), z.unknown()),
});
export type SealedReport = Omit<z.infer<typeof sealedReportSchema>, 'report'> & { report: EodReport };

export const describeZodIssues = (error: z.ZodError): string =>
  error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');

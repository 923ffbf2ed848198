import type { BalanceDelta } from './balance-registry.js';
import type { GeneratedOperation } from './operation-generator.js';
import { houseCustody, isHouse, type Journal } from './operation.js';

/** What a fault made `engine − ledger` for one (user, currency); house accounts are ledger-only and never listed. */
export interface Discrepancy {
  userId: string;
  currency: string;
  deltaMinor: bigint;
}

export type FaultKind = 'dropLedgerWrite' | 'doubleApplyTrade' | 'engineOnlyChange';

/** The next `journalCount` journals touching `userId` (any journal when omitted) are not written at all. */
export interface DropLedgerWriteSpec {
  userId?: string;
  journalCount: number;
}

/** The next trade involving `userId` (any trade when omitted) credits that user's side twice in the engine (the taker's when omitted). */
export interface DoubleApplyTradeSpec {
  userId?: string;
}

/** Changes the engine's available balance by `deltaMinor` with no ledger entry. */
export interface EngineOnlyChangeSpec {
  userId: string;
  currency: string;
  deltaMinor: bigint;
}

export interface FaultReport {
  faultId: string;
  kind: FaultKind;
  /** The fault has done everything it was armed to do (a drop waits for its journals to occur). */
  settled: boolean;
  /** `fix` has written the ledger side; the discrepancies no longer hold. */
  fixed: boolean;
  /** engine − ledger caused by this fault, per non-house (user, currency), zero rows left out, sorted. */
  discrepancies: Discrepancy[];
}

export interface FaultHandle {
  faultId: string;
  kind: FaultKind;
  report(): FaultReport;
  /** Resolves with the final report once the fault has settled. */
  settled: Promise<FaultReport>;
}

interface FaultRecord {
  faultId: string;
  kind: FaultKind;
  settled: boolean;
  fixed: boolean;
  deltas: Map<string, Discrepancy>;
  droppedJournals: Journal[];
  resolveSettled: (report: FaultReport) => void;
  settledPromise: Promise<FaultReport>;
}

interface ArmedDrop {
  record: FaultRecord;
  userId: string | undefined;
  remaining: number;
}

interface ArmedDouble {
  record: FaultRecord;
  userId: string | undefined;
}

const keyOf = (userId: string, currency: string): string => `${userId}\u0000${currency}`;
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The simulator's fault knobs and what each one caused. Every knob records the exact
 * engine − ledger discrepancy it introduced, so a test can assert the reconciler's alerts, and
 * knows the ledger journals that undo it (`fixJournals`).
 */
export class FaultBook {
  private readonly records = new Map<string, FaultRecord>();
  private drops: ArmedDrop[] = [];
  private doubles: ArmedDouble[] = [];
  private counter = 0;

  constructor(private readonly runTag: string) {}

  armDrop(spec: DropLedgerWriteSpec): FaultHandle {
    if (!Number.isInteger(spec.journalCount) || spec.journalCount < 1) throw new RangeError(`dropLedgerWrite: journalCount must be a positive integer, got ${spec.journalCount}`);
    const record = this.newRecord('dropLedgerWrite');
    this.drops.push({ record, userId: spec.userId, remaining: spec.journalCount });
    return this.handleOf(record);
  }

  armDouble(spec: DoubleApplyTradeSpec): FaultHandle {
    const record = this.newRecord('doubleApplyTrade');
    this.doubles.push({ record, userId: spec.userId });
    return this.handleOf(record);
  }

  /** Records an engine-only change the simulator has just queued. */
  recordEngineOnly(spec: EngineOnlyChangeSpec): FaultHandle {
    const record = this.newRecord('engineOnlyChange');
    this.addDelta(record, spec.userId, spec.currency, spec.deltaMinor);
    this.settle(record);
    return this.handleOf(record);
  }

  /**
   * Whether this journal is to be dropped (not written); if so, its user entries become the
   * armed fault's discrepancy. The first armed drop that matches takes it.
   */
  takeDrop(journal: Journal): boolean {
    const armed = this.drops.find((d) => d.userId === undefined || journal.entries.some((e) => e.userId === d.userId));
    if (!armed) return false;
    armed.record.droppedJournals.push(journal);
    // The engine has what the journal would have booked; the ledger has not.
    for (const e of journal.entries) if (!isHouse(e.userId)) this.addDelta(armed.record, e.userId, e.currency, e.amountMinor);
    armed.remaining -= 1;
    if (armed.remaining === 0) {
      this.drops = this.drops.filter((d) => d !== armed);
      this.settle(armed.record);
    }
    return true;
  }

  /** For a trade an armed double matches: the extra engine credit to add (the ledger books it once). */
  takeDouble(op: GeneratedOperation): BalanceDelta[] {
    if (op.kind !== 'trade' || !op.trade) return [];
    const trade = op.trade;
    const armed = this.doubles.find((d) => d.userId === undefined || d.userId === trade.maker.userId || d.userId === trade.taker.userId);
    if (!armed) return [];
    const credit = armed.userId === trade.maker.userId ? trade.maker : trade.taker;
    this.doubles = this.doubles.filter((d) => d !== armed);
    this.addDelta(armed.record, credit.userId, credit.currency, credit.availableDeltaMinor);
    this.settle(armed.record);
    return [{ ...credit }];
  }

  /**
   * The journals that make the ledger agree with the engine again: a dropped journal is written
   * late, exactly as it was; anything else gets a compensating admin adjustment against house:custody.
   * An unsettled drop is disarmed (what it has not dropped yet will be written normally).
   */
  fixJournals(faultId: string): Journal[] {
    const record = this.records.get(faultId);
    if (!record) throw new RangeError(`no fault ${faultId}`);
    if (record.fixed) return [];
    this.drops = this.drops.filter((d) => d.record !== record);
    this.doubles = this.doubles.filter((d) => d.record !== record);
    if (record.kind === 'dropLedgerWrite') return [...record.droppedJournals];
    const journalId = `${this.runTag}:fix:${faultId}`;
    const entries = [...record.deltas.values()].flatMap((d) => [
      { userId: d.userId, currency: d.currency, amountMinor: d.deltaMinor, referenceType: 'admin_adjustment' as const, referenceId: faultId },
      { userId: houseCustody, currency: d.currency, amountMinor: -d.deltaMinor, referenceType: 'admin_adjustment' as const, referenceId: faultId },
    ]);
    return entries.length > 0 ? [{ journalId, entries }] : [];
  }

  markFixed(faultId: string): FaultReport {
    const record = this.records.get(faultId);
    if (!record) throw new RangeError(`no fault ${faultId}`);
    record.fixed = true;
    this.settle(record);
    return this.reportOf(record);
  }

  reports(): FaultReport[] {
    return [...this.records.values()].map((r) => this.reportOf(r));
  }

  /** engine − ledger summed over every fault not yet fixed. */
  openDiscrepancies(): Discrepancy[] {
    const sum = new Map<string, Discrepancy>();
    for (const record of this.records.values()) {
      if (record.fixed) continue;
      for (const d of record.deltas.values()) {
        const key = keyOf(d.userId, d.currency);
        const seen = sum.get(key);
        if (seen) seen.deltaMinor += d.deltaMinor;
        else sum.set(key, { ...d });
      }
    }
    return sortDiscrepancies([...sum.values()]);
  }

  private newRecord(kind: FaultKind): FaultRecord {
    this.counter += 1;
    let resolveSettled: (report: FaultReport) => void = () => undefined;
    const settledPromise = new Promise<FaultReport>((resolve) => {
      resolveSettled = resolve;
    });
    const record: FaultRecord = { faultId: `fault-${this.counter}`, kind, settled: false, fixed: false, deltas: new Map(), droppedJournals: [], resolveSettled, settledPromise };
    this.records.set(record.faultId, record);
    return record;
  }

  private addDelta(record: FaultRecord, userId: string, currency: string, deltaMinor: bigint): void {
    const key = keyOf(userId, currency);
    const seen = record.deltas.get(key);
    if (seen) seen.deltaMinor += deltaMinor;
    else record.deltas.set(key, { userId, currency, deltaMinor });
  }

  private settle(record: FaultRecord): void {
    if (record.settled) return;
    record.settled = true;
    record.resolveSettled(this.reportOf(record));
  }

  private reportOf(record: FaultRecord): FaultReport {
    const discrepancies = sortDiscrepancies([...record.deltas.values()].filter((d) => d.deltaMinor !== 0n).map((d) => ({ ...d })));
    return { faultId: record.faultId, kind: record.kind, settled: record.settled, fixed: record.fixed, discrepancies };
  }

  private handleOf(record: FaultRecord): FaultHandle {
    return { faultId: record.faultId, kind: record.kind, report: () => this.reportOf(record), settled: record.settledPromise };
  }
}

export function sortDiscrepancies(list: Discrepancy[]): Discrepancy[] {
  return list.filter((d) => d.deltaMinor !== 0n).sort((a, b) => (a.userId === b.userId ? cmp(a.currency, b.currency) : cmp(a.userId, b.userId)));
}

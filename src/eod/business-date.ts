/**
 * Business dates (docs/contract.md §9, ADR 0015). With cutover T in IANA zone Z, business date D is
 * the window that ends at the first cutover after local midnight starting D:
 *   00:00 UTC             → [D 00:00, D+1 00:00)
 *   16:00 America/New_York → [D-1 16:00, D 16:00) local, 23 or 25 hours on DST days
 *   08:00 UTC             → [D-1 08:00, D 08:00)
 * Intl alone (no tz library): the zone's offset at an instant is read from formatToParts.
 */

export interface Cutover {
  /** `HH:MM`, 24 h (EOD_CUTOVER_TIME). */
  time: string;
  /** IANA zone (EOD_TIMEZONE). */
  zone: string;
}

/** A business date's window: [startMs, endMs) in epoch milliseconds. */
export interface BusinessWindow {
  date: string;
  startMs: number;
  endMs: number;
}

export const businessDatePattern = /^\d{4}-\d{2}-\d{2}$/;
const dayMs = 86_400_000;

/** A well-formed calendar date `YYYY-MM-DD` (2026-02-30 is not). */
export function isBusinessDate(text: string): boolean {
  if (!businessDatePattern.test(text)) return false;
  const ms = Date.parse(`${text}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === text;
}

/** `date` plus `days` calendar days. */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * dayMs).toISOString().slice(0, 10);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall-clock fields of `instantMs` in `zone`. */
function wallClockOf(zone: string, instantMs: number): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const parts = Object.fromEntries(formatterOf(zone).formatToParts(new Date(instantMs)).map((p) => [p.type, p.value]));
  return { y: Number(parts.year), mo: Number(parts.month), d: Number(parts.day), h: Number(parts.hour) % 24, mi: Number(parts.minute), s: Number(parts.second) };
}

/** The zone's offset from UTC at `instantMs` (local − UTC), whole seconds. */
function offsetMsAt(zone: string, instantMs: number): number {
  const w = wallClockOf(zone, instantMs);
  const asUtc = Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);
  return asUtc - Math.floor(instantMs / 1000) * 1000;
}

/**
 * The instant at which the wall clock in `zone` reads `date` `time`. An ambiguous time (the
 * hour repeated when clocks go back) is its first occurrence; a time that does not exist (the
 * hour skipped when clocks go forward) is shifted forward by the gap (Temporal's "compatible").
 */
export function zonedInstant(date: string, time: string, zone: string): number {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const [h, mi] = time.split(':').map(Number) as [number, number];
  const local = Date.UTC(y, mo - 1, d, h, mi);
  const offsetBefore = offsetMsAt(zone, local - dayMs / 2);
  const offsetAfter = offsetMsAt(zone, local + dayMs / 2);
  const candidates = [local - offsetBefore, local - offsetAfter].filter((t) => local - offsetMsAt(zone, t) === t);
  if (candidates.length > 0) return Math.min(...candidates);
  return local - offsetBefore;
}

/** The local calendar date of `instantMs` in `zone`. */
function localDateOf(zone: string, instantMs: number): string {
  const w = wallClockOf(zone, instantMs);
  return `${String(w.y).padStart(4, '0')}-${String(w.mo).padStart(2, '0')}-${String(w.d).padStart(2, '0')}`;
}

/** The end of business date `date`: the first cutover after local midnight starting it. */
function endOf(date: string, cutover: Cutover): number {
  // A cutover at 00:00 falls on that midnight itself, not after it: the day ends at the next one.
  return cutover.time === '00:00' ? zonedInstant(addDays(date, 1), '00:00', cutover.zone) : zonedInstant(date, cutover.time, cutover.zone);
}

export function businessWindow(date: string, cutover: Cutover): BusinessWindow {
  if (!isBusinessDate(date)) throw new RangeError(`not a business date (YYYY-MM-DD): ${JSON.stringify(date)}`);
  return { date, startMs: endOf(addDays(date, -1), cutover), endMs: endOf(date, cutover) };
}

/** The business date whose window holds `instantMs`. */
export function businessDateOf(instantMs: number, cutover: Cutover): string {
  const local = localDateOf(cutover.zone, instantMs);
  for (const date of [addDays(local, -1), local, addDays(local, 1), addDays(local, 2)]) {
    const w = businessWindow(date, cutover);
    if (instantMs >= w.startMs && instantMs < w.endMs) return date;
  }
  throw new Error(`no business date holds ${new Date(instantMs).toISOString()} (cutover ${cutover.time} ${cutover.zone})`);
}

/** The latest business date whose window has ended at `instantMs`. */
export function lastClosedDate(instantMs: number, cutover: Cutover): string {
  return addDays(businessDateOf(instantMs, cutover), -1);
}

import pc from 'picocolors';
import { redactUrl } from '../config/service-unreachable.js';

/**
 * The live view (`npm start` on a terminal, or `--pretty`): the engine's structured log
 * events turned into one short line each for what a person must see — alerts and their
 * resolution, accounts frozen and restored, withdrawals paused and resumed, EOD steps, the
 * periodic summary, warnings and errors. Everything else (debug detail, routine info) stays
 * in the JSON lines a log shipper gets when stdout is not a terminal.
 */

type Colour = (text: string) => string;
interface Palette { red: Colour; green: Colour; yellow: Colour; cyan: Colour; dim: Colour; bold: Colour }

/** Boundaries in plain words. */
export const boundaryWords: Record<string, string> = {
  me_db: 'matching engine ↔ ledger',
  db_custody: 'ledger ↔ custody',
  db_chain: 'ledger ↔ chain',
};

/** What each side of a boundary is called, for `left` and `right`. */
const sideWords: Record<string, [string, string]> = {
  me_db: ['engine', 'ledger'],
  db_custody: ['ledger', 'custody'],
  db_chain: ['ledger', 'chain'],
};

type LogEvent = Record<string, unknown> & { level?: number; time?: string; msg?: string; event?: string };

const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : null);

function clock(event: LogEvent): string {
  const time = str(event.time);
  return time ? time.slice(11, 19) : new Date().toISOString().slice(11, 19);
}

function where(event: LogEvent): string {
  return [str(event.userId), str(event.currency)].filter(Boolean).join(' ') || str(event.key) || '';
}

/** The readable line for one log event, or null when it is not for people. */
export function formatLiveLine(event: LogEvent, p: Palette): string | null {
  const tag = (label: string, colour: Colour): string => colour(label.padEnd(9));
  const line = (label: string, colour: Colour, text: string): string => `${p.dim(clock(event))} ${tag(label, colour)}${text}`;
  const boundary = str(event.boundary) ?? '';
  const plain = boundaryWords[boundary] ?? boundary;
  switch (event.event) {
    case 'embedded.nats.started':
      return line('START', p.dim, `NATS ${str(event.url) ?? ''} (embedded)`);
    case 'embedded.postgres.started':
      return line('START', p.dim, `PostgreSQL ${redactUrl(str(event.url) ?? '')} (embedded)`);
    case 'anvil.staking_pool_deployed':
      return line('START', p.dim, `chain: anvil with the StakingPool at ${str(event.poolAddress) ?? '?'}`);
    case 'embedded.bitgo.started':
      return line('START', p.dim, `custody: BitGo API simulator at ${str(event.url) ?? '?'}`);
    case 'engine.stopping':
      return line('STOP', p.dim, 'stopping (Ctrl-C again does not hurry it: the embedded services are stopped cleanly)');
    case 'engine.ready':
      return line('READY', p.green, `${str(event.msg) ?? 'engine ready'}${str(event.http) ? ` · metrics ${str(event.http)}/metrics` : ''}`);
    case 'recon.alert': {
      const [leftName, rightName] = sideWords[boundary] ?? ['left', 'right'];
      const sides = str(event.left) !== null || str(event.right) !== null ? ` (${leftName} ${str(event.left) ?? '-'}, ${rightName} ${str(event.right) ?? '-'})` : '';
      return line('ALERT', (t) => p.bold(p.red(t)), `${plain}: ${where(event)} ${str(event.kind) ?? ''}, off by ${str(event.delta) ?? '?'}${sides}`);
    }
    case 'recon.resolved': {
      // Newer engines send the agreed amounts with the last difference apart (lastDelta); older ones the last difference only.
      const [leftName, rightName] = sideWords[boundary] ?? ['left', 'right'];
      const agreed = 'lastDelta' in event && str(event.left) !== null ? ` at ${leftName} ${str(event.left)}, ${rightName} ${str(event.right) ?? '-'}` : '';
      const was = str('lastDelta' in event ? event.lastDelta : event.delta);
      return line('RESOLVED', p.green, `${plain}: ${where(event)} ${str(event.kind) ?? ''}, the sides agree again${agreed}${was ? ` (it was off by ${was})` : ''}`);
    }
    // The reconciler's own lines and the demo's repeat the bus events above; the simulator's fault lines the demo's.
    case 'recon.break_raised':
    case 'recon.break_resolved':
    case 'custody.withdrawals':
    case 'demo.recon_alert':
    case 'demo.recon_resolved':
    case 'sim.fault.armed':
      return null;
    case 'recon.break_acknowledged':
    case 'recon.break_accepted':
      return line(event.event === 'recon.break_accepted' ? 'ACCEPTED' : 'ACKED', p.cyan, `${plain ? `${plain}: ` : ''}break ${str(event.breakId) ?? ''} by ${str(event.actorId) ?? '?'}${str(event.reason) ? ` — ${str(event.reason)}` : ''}`);
    case 'account.frozen':
      return line(str(event.to) === 'suspended' ? 'FROZEN' : str(event.to)?.toUpperCase() ?? 'ACCOUNT', (t) => p.bold(p.yellow(t)), `account ${str(event.userId)} is now ${str(event.to)} (was ${str(event.from) ?? 'new'}): ${str(event.reasonCode)}, by ${str(event.authority)} ${str(event.actorId)}`);
    case 'account.restored':
      return line('RESTORED', p.green, `account ${str(event.userId)} is active again (was ${str(event.from)}): ${str(event.reasonCode)}, by ${str(event.authority)} ${str(event.actorId)}`);
    case 'custody.withdrawals_paused':
      return line('PAUSED', (t) => p.bold(p.yellow(t)), `${str(event.asset)} withdrawals paused: ledger ↔ custody off by ${str(event.delta) ?? '?'} (ledger ${str(event.ledger) ?? '-'}, custody ${str(event.custody) ?? '-'})`);
    case 'custody.withdrawals_resumed':
      return line('RESUMED', p.green, `${str(event.asset)} withdrawals resumed: ledger and custody agree again`);
    case 'eod.run.started':
      return line('EOD', p.cyan, `${str(event.date)} close started`);
    case 'eod.run.sealed':
      return line('SEALED', p.green, `${str(event.date)} close sealed${str(event.sha256) ? `, sha256 ${str(event.sha256)?.slice(0, 16)}…` : ''}`);
    case 'engine.summary': {
      const plural = (n: string, word: string): string => `${n} ${word}${n === '1' ? '' : 's'}`;
      return line('SUMMARY', p.dim, `${str(event.eventsPerSec) ?? '0'} events/s · ${plural(str(event.liveActors) ?? '0', 'live actor')} · ${plural(str(event.openBreaks) ?? '0', 'open break')}`);
    }
    case 'http.listening':
      return str(event.url) ? line('HTTP', p.dim, `metrics ${str(event.url)}/metrics · health ${str(event.url)}/health`) : null;
    default:
      break;
  }
  // The close logs each step as eod.<step>.completed / .failed (on the leader, which runs it).
  const step = typeof event.event === 'string' ? /^eod\.([a-z_]+)\.(completed|failed)$/.exec(event.event) : null;
  if (step) {
    return step[2] === 'completed'
      ? line('EOD', p.cyan, `${str(event.date)} ${step[1]} done`)
      : line('EOD', p.red, `${str(event.date)} ${step[1]} FAILED${str(event.err) ? `: ${str(event.err)?.split('\n')[0]}` : ''}`);
  }
  const level = typeof event.level === 'number' ? event.level : 30;
  const message = str(event.msg) ?? str(event.event) ?? '';
  if (event.event?.startsWith('demo.') && level >= 30 && event.event !== 'demo.staked') return line('DEMO', p.dim, message.replace(/^demo: /, ''));
  if (level >= 50) return line('ERROR', p.red, `${message}${str(event.err) ? `: ${str(event.err)?.split('\n')[0]}` : ''}`);
  if (level >= 40) return line('WARN', p.yellow, `${message}${str(event.err) ? `: ${str(event.err)?.split('\n')[0]}` : ''}`);
  return null;
}

/** A pino destination writing the live view to `out` (colours when it is a terminal). */
export function liveViewDestination(out: NodeJS.WritableStream & { isTTY?: boolean }): { write(chunk: string): boolean } {
  const palette: Palette = out.isTTY ? pc : { red: String, green: String, yellow: String, cyan: String, dim: String, bold: String };
  return {
    write(chunk: string) {
      for (const text of chunk.split('\n')) {
        if (!text) continue;
        let event: LogEvent;
        try {
          event = JSON.parse(text) as LogEvent;
        } catch {
          out.write(`${text}\n`);
          continue;
        }
        const formatted = formatLiveLine(event, palette);
        if (formatted) out.write(`${formatted}\n`);
      }
      return true;
    },
  };
}

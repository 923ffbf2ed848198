import Table from 'cli-table3';
import pc from 'picocolors';
import type { Command } from 'commander';

/** Options every command takes. */
export interface CommonOptions {
  json?: boolean;
}

/** Adds `--json` to a command and an example to its help. */
export function withCommon(command: Command, example: string): Command {
  return command
    .option('--json', 'print exactly one JSON document on stdout (for scripts)')
    .addHelpText('after', `\nExample:\n  $ ${example}\n`);
}

/** Prints the result: the JSON document with --json, the human rendering otherwise. */
export function emit<T>(options: CommonOptions, doc: T, human: (doc: T) => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(doc, null, 2)}\n` : `${human(doc).replace(/\n+$/, '')}\n`);
}

/** A table for people: a header row and the rows, cells as given. */
export function table(head: string[], rows: Array<Array<string | number | boolean | null | undefined>>): string {
  const t = new Table({ head: head.map((h) => pc.bold(h)), style: { head: [], border: [] } });
  for (const row of rows) t.push(row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))));
  return t.toString();
}

/** `key  value` lines for one object, aligned. */
export function fields(entries: Array<[string, unknown]>): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${pc.dim(k.padEnd(width))}  ${v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('\n');
}

export const ok = (text: string): string => pc.green(text);
export const bad = (text: string): string => pc.red(text);

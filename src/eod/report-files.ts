import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** What `admin.eod.report` answers and what `<date>.json` holds (DESIGN.md §6, §7). */
export interface SealedReportDocument {
  date: string;
  sha256: string;
  prevSha256: string | null;
  signature: string;
  publicKey: string;
  report: unknown;
}

/** Renders the report as one self-contained HTML page (no network). Replaced by src/eod/report's renderer when it lands. */
export type ReportHtmlRenderer = (document: SealedReportDocument) => string;

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const plainReportHtml: ReportHtmlRenderer = (doc) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>EOD report ${escapeHtml(doc.date)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}code,pre{font:12px ui-monospace,monospace}pre{background:#f6f6f6;padding:1em;overflow:auto}</style></head>
<body><h1>End-of-day report ${escapeHtml(doc.date)}</h1>
<p>sha256 <code>${escapeHtml(doc.sha256)}</code><br>previous <code>${escapeHtml(doc.prevSha256 ?? 'none (first day)')}</code><br>public key <code>${escapeHtml(doc.publicKey)}</code></p>
<pre>${escapeHtml(JSON.stringify(doc.report, null, 2))}</pre></body></html>
`;

/** Writes `<date>.json` and `<date>.html` under `dir` (each through a temporary file and a rename). */
export async function writeReportFiles(dir: string, doc: SealedReportDocument, render: ReportHtmlRenderer): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = path.resolve(dir, `${doc.date}.json`);
  const html = path.resolve(dir, `${doc.date}.html`);
  for (const [file, text] of [[json, `${JSON.stringify(doc, null, 2)}\n`], [html, render(doc)]] as const) {
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, text);
    await rename(temporary, file);
  }
  return { json, html };
}

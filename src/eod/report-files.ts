import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** What `admin.eod.report` answers and what `<date>.json` holds (docs/contract.md §7, §10). */
export interface SealedReportDocument {
  date: string;
  sha256: string;
  prevSha256: string | null;
  signature: string;
  publicKey: string;
  report: unknown;
}

/** Renders the sealed report as one self-contained HTML page (src/eod/report's renderReportHtml). */
export type ReportHtmlRenderer = (document: SealedReportDocument) => string;

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

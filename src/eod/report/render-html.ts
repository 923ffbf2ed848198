import { eodReportSchema, sealedReportSchema, describeZodIssues, type EodReport } from './report-schema.js';

/**
 * The sealed report as one self-contained HTML page: inline CSS and SVG, no script, no font,
 * no link to anywhere, so it opens offline and leaks nothing. Every value from the report goes
 * through `escapeHtml`; the page is a view, the JSON is the record.
 */

const knownBoundaries = ['me_db', 'db_custody', 'db_chain'] as const;

export function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const text = (value: unknown): string => escapeHtml(typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value));

function table(headers: string[], rows: string[][], empty: string): string {
  if (rows.length === 0) return `<p class="empty">${escapeHtml(empty)}</p>`;
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((cells) => `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

interface Bar {
  label: string;
  /** Drawing length only, never an amount. */
  magnitude: number;
  caption: string;
  tone: 'ok' | 'bad' | 'info';
}

function barChart(title: string, bars: Bar[], note: string): string {
  const rowHeight = 26;
  const labelWidth = 130;
  const barWidthMax = 300;
  const width = labelWidth + barWidthMax + 210;
  const height = Math.max(1, bars.length) * rowHeight + 8;
  const largest = Math.max(0, ...bars.map((b) => b.magnitude));
  const rows = bars.map((bar, i) => {
    const y = 4 + i * rowHeight;
    const length = largest > 0 ? Math.max(bar.magnitude > 0 ? 2 : 0, Math.round((bar.magnitude / largest) * barWidthMax)) : 0;
    return [
      `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end" class="label">${escapeHtml(bar.label)}</text>`,
      `<rect x="${labelWidth}" y="${y + 3}" width="${length}" height="${rowHeight - 8}" rx="3" class="bar ${bar.tone}"/>`,
      `<text x="${labelWidth + length + 6}" y="${y + 16}" class="value">${escapeHtml(bar.caption)}</text>`,
    ].join('');
  });
  return `<figure><figcaption>${escapeHtml(title)}</figcaption>
<svg role="img" aria-label="${escapeHtml(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${rows.join('')}</svg>
<p class="note">${escapeHtml(note)}</p></figure>`;
}

function breaksChart(report: EodReport): string {
  const counts = new Map<string, number>(knownBoundaries.map((b) => [b, 0]));
  for (const b of report.breaks) counts.set(b.boundary, (counts.get(b.boundary) ?? 0) + 1);
  const bars = [...counts].map(([boundary, count]): Bar => ({ label: boundary, magnitude: count, caption: `${count} open`, tone: count > 0 ? 'bad' : 'ok' }));
  return barChart('Open breaks per boundary', bars, 'Breaks open at the cut, as listed below.');
}

function liabilitiesChart(report: EodReport): string {
  // Currencies have different units, so bars use log10 of the whole-unit total only to draw; the exact totals are in the captions and the table.
  const bars = report.liabilities.map((l): Bar => ({
    label: l.currency,
    magnitude: Math.log10(1 + Number(l.total)),
    caption: `${l.total} · ${l.leafCount} user${l.leafCount === 1 ? '' : 's'}`,
    tone: 'info',
  }));
  return barChart('Liabilities per currency', bars, 'Bar length on a log scale (currencies differ in unit); totals are exact.');
}

function figuresList(figures: Record<string, unknown>): string {
  const entries = Object.entries(figures);
  if (entries.length === 0) return '<span class="muted">—</span>';
  return `<dl>${entries.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${text(v)}</dd>`).join('')}</dl>`;
}

const statusBadge = (status: string): string => `<span class="badge ${escapeHtml(status)}">${escapeHtml(status)}</span>`;
const mono = (value: string | null): string => (value === null ? '<span class="muted">null</span>' : `<code>${escapeHtml(value)}</code>`);

const css = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--ok:#1a7f37;--bad:#cf222e;--info:#0969da;--warn:#9a6700}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:#fff}
main{max-width:1100px;margin:0 auto;padding:24px}h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
.sub{color:var(--muted);margin:0 0 16px}.muted{color:var(--muted)}.empty{color:var(--muted);font-style:italic}
table{border-collapse:collapse;width:100%;margin:4px 0}th,td{border:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600}code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
.seal td:first-child,.kv td:first-child{width:160px;font-weight:600;background:var(--bg)}
dl{margin:0;display:grid;grid-template-columns:max-content 1fr;gap:0 12px}dt{color:var(--muted)}dd{margin:0;word-break:break-word}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;background:var(--muted)}
.badge.completed{background:var(--ok)}.badge.failed{background:var(--bad)}.badge.skipped{background:#8c959f}.badge.running,.badge.pending{background:var(--warn)}
.charts{display:flex;flex-wrap:wrap;gap:24px}figure{margin:0}figcaption{font-weight:600;margin-bottom:4px}.note{color:var(--muted);font-size:12px;margin:2px 0 0}
svg .label{font-size:12px;fill:var(--fg)}svg .value{font-size:12px;fill:var(--muted)}svg .bar.ok{fill:var(--ok)}svg .bar.bad{fill:var(--bad)}svg .bar.info{fill:var(--info)}
footer{margin-top:32px;color:var(--muted);font-size:12px}
`;

/** Renders an `admin.eod.report` answer (`{date, sha256, prevSha256, signature, publicKey, report}`) as a self-contained page. */
export function renderReportHtml(doc: unknown): string {
  const envelope = sealedReportSchema.safeParse(doc);
  if (!envelope.success) throw new Error(`cannot render: not a sealed report: ${describeZodIssues(envelope.error)}`);
  const body = eodReportSchema.safeParse(envelope.data.report);
  if (!body.success) throw new Error(`cannot render the report of ${envelope.data.date}: ${describeZodIssues(body.error)}`);
  const seal = envelope.data;
  const report = body.data;

  const completed = report.steps.filter((s) => s.status === 'completed').length;
  const skipped = report.steps.filter((s) => s.status === 'skipped').length;
  const cutRows = Object.entries(report.cut).map(([k, v]) => [escapeHtml(k), v === null || v === undefined ? '<span class="muted">— (disabled)</span>' : text(v)]);
  const stepRows = report.steps.map((s) => [`<code>${escapeHtml(s.name)}</code>`, statusBadge(s.status), figuresList(s.figures), s.reason === undefined ? '' : escapeHtml(s.reason)]);
  const breakRows = report.breaks.map((b) => [b.boundary, b.kind, b.userId ?? '', b.currency ?? '', b.left ?? '', b.right ?? '', b.delta ?? '', b.firstSeenAt ?? '', b.status ?? ''].map((v) => escapeHtml(v)));
  const liabilityRows = report.liabilities.map((l) => [escapeHtml(l.currency), escapeHtml(l.total), escapeHtml(String(l.leafCount)), `<code>${escapeHtml(l.rootHash)}</code>`]);
  const inFlightRows = report.inFlight.map((f) => [f.boundary ?? '', f.kind, f.currency, f.amount, f.reference ?? ''].map((v) => escapeHtml(v)));

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EOD report ${escapeHtml(report.date)}</title>
<style>${css}</style>
</head>
<body>
<main>
<h1>End-of-day report · ${escapeHtml(report.date)}</h1>
<p class="sub">Cut at ${escapeHtml(report.cut.cutoverAt)} (${escapeHtml(report.cut.timezone)}) · ${completed} steps completed, ${skipped} skipped, ${report.steps.length - completed - skipped} other · ${report.breaks.length} open break${report.breaks.length === 1 ? '' : 's'} · generated ${escapeHtml(report.generatedAt)}</p>

<div class="charts">
${breaksChart(report)}
${liabilitiesChart(report)}
</div>

<h2>Seal</h2>
<table class="seal"><tbody>
<tr><td>sha256</td><td>${mono(seal.sha256)}</td></tr>
<tr><td>prevSha256</td><td>${mono(seal.prevSha256)}</td></tr>
<tr><td>publicKey (Ed25519)</td><td>${mono(seal.publicKey)}</td></tr>
<tr><td>signature</td><td>${mono(seal.signature)}</td></tr>
</tbody></table>
<p class="note">sha256 is over the RFC 8785 (JCS) encoding of the report JSON; the signature is over the same bytes. Verify the JSON with <code>recon report verify</code>, not this page.</p>

<h2>Cut</h2>
<table class="kv"><tbody>
${cutRows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('\n')}
</tbody></table>

<h2>Steps</h2>
${table(['step', 'status', 'figures', 'reason'], stepRows, 'No steps.')}

<h2>Breaks</h2>
${table(['boundary', 'kind', 'user', 'currency', 'left', 'right', 'delta', 'first seen', 'status'], breakRows, 'No open breaks at the cut.')}

<h2>Liabilities (proof-of-liabilities roots)</h2>
${table(['currency', 'total', 'users', 'Merkle-sum root'], liabilityRows, 'No liabilities.')}

<h2>In flight at the cut</h2>
${table(['boundary', 'kind', 'currency', 'amount', 'reference'], inFlightRows, 'Nothing in flight.')}

<footer>Report ${escapeHtml(report.date)} · sha256 <code>${escapeHtml(seal.sha256)}</code></footer>
</main>
</body>
</html>
`;
}

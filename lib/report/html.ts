/**
 * The report page: one HTML file with the charts inlined as SVG and no scripts or
 * external resources, so it opens anywhere (a mail attachment, an S3 console preview).
 */
import type { Chart } from './charts.ts';
import type { ReportModel } from './model.ts';
import { formatBytes as bytesText } from '../core/units.ts';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}


const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

function summaryRows(m: ReportModel): [string, string][] {
  const shape = m.input.shape ? ` (${m.input.shape.join(' × ')})` : '';
  const rows: [string, string][] = [
    ['state', m.state + (m.failure ? `: ${m.failure}` : '')],
    ['input', `${m.input.path} · ${bytesText(m.input.bytes)} · ${m.input.format}${shape}`],
    ['analysis', m.analysis],
    ['slices', `${m.slices} (${m.slicesFound} found in ${m.partialsFound} partials, ${m.resumedSlices} resumed)`],
  ];
  if (m.records !== undefined) rows.push(['records', String(m.records) + (m.skipped ? ` (${m.skipped} bad records skipped)` : '')]);
  if (m.elapsedMs !== undefined) rows.push(['elapsed', seconds(m.elapsedMs)]);
  if (m.jobBytesPerSecond !== undefined) rows.push(['job throughput', `${bytesText(m.jobBytesPerSecond)}/s`]);
  if (m.workers.length > 0) rows.push(['workers', `${m.workers.length} (${m.coldStarts} cold starts)`]);
  if (m.medianMs !== undefined) {
    const stragglers = m.rows.filter((r) => r.straggler).length;
    rows.push(['partial time', `median ${seconds(m.medianMs)}, ${stragglers} straggler${stragglers === 1 ? '' : 's'} (> 1.5 × the median time for their size)`]);
  }
  if (m.peakRssBytes !== undefined) rows.push(['peak memory', `${bytesText(m.peakRssBytes)} resident (highest of any worker process)`]);
  rows.push(['job', m.job]);
  return rows;
}

function slowest(m: ReportModel): string {
  // By throughput: the longest partials on one machine are the biggest runs, not the slowest.
  const top = [...m.rows].sort((a, b) => a.bytesPerSecond - b.bytesPerSecond || b.durationMs - a.durationMs).slice(0, 10);
  if (top.length === 0) return '';
  const cells = top
    .map(
      (r) =>
        `<tr${r.straggler ? ' class="straggler"' : ''}><td>${r.slices > 1 ? `${r.index}–${r.index + r.slices - 1}` : r.index}</td><td>${escapeHtml(r.worker)}</td><td>${r.start}–${r.end}</td><td>${bytesText(r.bytes)}</td><td>${Number(r.records.toFixed(3))}</td><td>${seconds(r.durationMs)}</td><td>${bytesText(r.bytesPerSecond)}/s</td><td>${r.coldStart ? 'yes' : ''}</td><td>${r.peakRssBytes !== undefined ? bytesText(r.peakRssBytes) : ''}</td></tr>`,
    )
    .join('\n');
  return `<h2>Slowest partials</h2>
<table class="slices"><thead><tr><th>slice</th><th>worker</th><th>bytes [start–end)</th><th>size</th><th>records</th><th>time</th><th>throughput</th><th>cold</th><th>peak RSS</th></tr></thead>
<tbody>
${cells}
</tbody></table>`;
}

export function renderHtml(m: ReportModel, charts: readonly Chart[], generatedAt = new Date()): string {
  const summary = summaryRows(m)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('\n');
  const figures = m.figures.length
    ? `<h2>Result</h2><table class="summary">${m.figures.map((f) => `<tr><th>${escapeHtml(f.label)}</th><td>${escapeHtml(f.value)}</td></tr>`).join('')}</table>`
    : '';
  const sections = charts.map((c) => `<section class="chart" id="${c.name}"><h2>${escapeHtml(c.title)}</h2>\n${c.svg}\n</section>`).join('\n');
  const notes = m.notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fanout report: ${escapeHtml(m.analysis)} of ${escapeHtml(m.input.path)}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; max-width: 800px; margin: 2em auto; padding: 0 1em; }
  h1 { font-size: 1.4em; margin-bottom: 0.2em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
  table { border-collapse: collapse; } th, td { text-align: left; padding: 2px 10px 2px 0; vertical-align: top; }
  table.summary th { color: #6b7280; font-weight: 500; }
  table.slices { font-size: 12px; } table.slices td, table.slices th { border-bottom: 1px solid #e5e7eb; padding: 3px 8px; }
  tr.straggler td { color: #b91c1c; }
  .state-failed { color: #b91c1c; } .note { color: #92400e; background: #fffbeb; padding: 4px 8px; border-radius: 4px; }
  footer { color: #9ca3af; font-size: 12px; margin-top: 2em; }
  svg { max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1 class="state-${m.state}">${escapeHtml(m.analysis)} of ${escapeHtml(m.input.path)}</h1>
${notes}
<table class="summary">
${summary}
</table>
${figures}
${sections}
${slowest(m)}
<footer>fanout report · read from ${escapeHtml(m.where)} · ${escapeHtml(generatedAt.toISOString())}</footer>
</body>
</html>
`;
}

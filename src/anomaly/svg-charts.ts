/**
 * Two small inline SVG charts for the review page (review-html.ts): vertical bars in series (per hour) and
 * horizontal bars (top lists). Strings only, no DOM and no script: the page works with scripts off and under a CSP
 * that allows nothing but its own style element. Colours and sizes are SVG attributes, never `style=""`, which
 * that CSP would refuse. Every label goes through `escapeHtml`: user names and user agents come from attackers.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe in HTML and inline SVG, in element content and in quoted attributes. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** At most `max` characters (by code point), with an ellipsis; cut before escaping, so no entity is cut in two. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** A round upper bound for an axis: 1, 2 or 5 times a power of ten, at least `max` (and at least 1). */
export function niceCeiling(max: number): number {
  if (max <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((f) => f * power).find((v) => v >= max)!;
}

export interface Series {
  name: string;
  color: string;
}

export interface ColumnGroup {
  /** Under the group (e.g. `13`). */
  label: string;
  /** Shown on hover, before each value (e.g. `13:00–14:00 UTC`). */
  title: string;
  /** One value per series. */
  values: number[];
}

const FONT = 'font-size="11" fill="#444"';

/** Grouped vertical bars: one group per label, one bar per series, a y axis with three ticks and a legend. */
export function columnChart(groups: readonly ColumnGroup[], series: readonly Series[], description: string): string {
  const width = 760;
  const height = 260;
  const left = 44;
  const right = 8;
  const top = 28;
  const bottom = 24;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const ceiling = niceCeiling(Math.max(0, ...groups.flatMap((g) => g.values)));
  const y = (v: number): number => top + plotH - (v / ceiling) * plotH;
  const slot = plotW / Math.max(1, groups.length);
  const barW = Math.max(1, (slot * 0.8) / Math.max(1, series.length));
  const parts: string[] = [];
  for (const tick of [0, ceiling / 2, ceiling]) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end" ${FONT}>${escapeHtml(Number.isInteger(tick) ? tick : tick.toFixed(1))}</text>`);
  }
  groups.forEach((group, i) => {
    const x0 = left + i * slot + slot * 0.1;
    group.values.forEach((value, s) => {
      const h = (value / ceiling) * plotH;
      parts.push(
        `<rect class="bar" x="${(x0 + s * barW).toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${escapeHtml(series[s]!.color)}">` +
          `<title>${escapeHtml(`${group.title}: ${value} ${series[s]!.name}`)}</title></rect>`,
      );
    });
    parts.push(`<text x="${(left + i * slot + slot / 2).toFixed(1)}" y="${height - 8}" text-anchor="middle" ${FONT}>${escapeHtml(group.label)}</text>`);
  });
  series.forEach((s, i) => {
    const x = left + i * 120;
    parts.push(`<rect x="${x}" y="6" width="12" height="12" fill="${escapeHtml(s.color)}"/><text x="${x + 18}" y="16" ${FONT}>${escapeHtml(s.name)}</text>`);
  });
  return `<svg class="chart wide" role="img" aria-label="${escapeHtml(description)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title>${escapeHtml(description)}</title>${parts.join('')}</svg>`;
}

export interface BarRow {
  label: string;
  count: number;
  /** Bar colour; the chart's own when not given. */
  color?: string;
}

/** Horizontal bars, longest first as given, each labelled (truncated, whole on hover) and with its count. */
export function barChart(rows: readonly BarRow[], description: string, color = '#c62828'): string {
  const width = 420;
  const rowH = 22;
  const labelW = 170;
  const countW = 48;
  const height = rows.length * rowH + 6;
  const max = Math.max(1, ...rows.map((r) => r.count));
  const parts = rows.map((row, i) => {
    const y = 3 + i * rowH;
    const w = Math.max(2, (row.count / max) * (width - labelW - countW));
    return `<text x="${labelW - 6}" y="${y + 15}" text-anchor="end" ${FONT}>${escapeHtml(truncate(row.label, 26))}<title>${escapeHtml(row.label)}</title></text>` +
      `<rect class="bar" x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${escapeHtml(row.color ?? color)}"><title>${escapeHtml(`${row.label}: ${row.count}`)}</title></rect>` +
      `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 15}" ${FONT}>${escapeHtml(row.count)}</text>`;
  });
  return `<svg class="chart" role="img" aria-label="${escapeHtml(description)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title>${escapeHtml(description)}</title>${parts.join('')}</svg>`;
}

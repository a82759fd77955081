// Turns per-round outcomes into medians, ratios, a text table and JSON.
import type { GatewayName } from './gateways.js';
import type { MetricDef, Outcome } from './scenarios/common.js';
import { median } from './util.js';

/** Table columns; `baseline` (right after wsgate) only in a --baseline run. */
export const columns = (baseline: boolean): GatewayName[] =>
  baseline ? ['wsgate', 'baseline', 'websockify', 'floor'] : ['wsgate', 'websockify', 'floor'];

export type Results = Map<string, Map<GatewayName, Outcome[]>>;

export interface Summary {
  metric: MetricDef;
  /** One per column (so `baseline` only in a --baseline run). */
  cells: Partial<Record<GatewayName, { median: number | null; text: string; outcomes: Outcome[] }>>;
  /** >1 means wsgate is better (inverted for lower-is-better metrics). */
  vsFloor: number | null;
  vsWebsockify: number | null;
  /** Present only in a --baseline run. */
  vsBaseline?: number | null;
}

type Cell = NonNullable<Summary['cells'][GatewayName]>;

function fmt(def: MetricDef, v: number): string {
  if (def.outOf) return `${Math.round(v)}/${def.outOf}`;
  return v.toFixed(v !== 0 && Math.abs(v) < 10 ? Math.max(def.digits, 1) : def.digits);
}

function cellText(def: MetricDef, outcomes: Outcome[], rounds: number): [number | null, string] {
  if (!outcomes.length) return [null, '-'];
  const good = outcomes.filter((o) => o.status === 'ok').map((o) => o.value!);
  if (good.length) {
    const m = median(good);
    let text = fmt(def, m);
    if (def.outOf && Math.min(...good) !== Math.max(...good)) {
      text += ` [${Math.min(...good)}-${Math.max(...good)}]`;
    }
    if (good.length < outcomes.length) text += ` (${outcomes.length - good.length} bad)`;
    const tags = [...new Set(outcomes.map((o) => o.tag).filter(Boolean))];
    if (outcomes.length === 1 && rounds > 1) tags.push('1 round');
    if (tags.length) text += ` (${tags.join(',')})`;
    return [m, text];
  }
  // No valid round: show the most telling status, with the measured value if any.
  const st = outcomes.find((o) => o.status === 'FAIL') ?? outcomes[0]!;
  const vals = outcomes.filter((o) => o.value !== undefined).map((o) => o.value!);
  return [null, vals.length ? `${st.status} (~${fmt(def, median(vals))})` : st.status];
}

function ratio(def: MetricDef, ours: number | null | undefined, theirs: number | null | undefined): number | null {
  if (ours == null || theirs == null) return null;
  const [num, den] = def.better === 'higher' ? [ours, theirs] : [theirs, ours];
  return den > 0 && num > 0 ? num / den : null;
}

export function summarize(defs: MetricDef[], results: Results, rounds: number, cols: GatewayName[]): Summary[] {
  return defs.map((metric) => {
    const byGw = results.get(metric.id) ?? new Map<GatewayName, Outcome[]>();
    const cells: Summary['cells'] = {};
    for (const gw of cols) {
      const outcomes = byGw.get(gw) ?? [];
      const [m, text] = cellText(metric, outcomes, rounds);
      cells[gw] = { median: m, text, outcomes };
    }
    const wsgate = cells.wsgate?.median;
    return {
      metric,
      cells,
      vsFloor: ratio(metric, wsgate, cells.floor?.median),
      vsWebsockify: ratio(metric, wsgate, cells.websockify?.median),
      ...(cells.baseline ? { vsBaseline: ratio(metric, wsgate, cells.baseline.median) } : {}),
    };
  });
}

const cellsOf = (s: Summary, cols: GatewayName[]): Array<[GatewayName, Cell]> =>
  cols.map((g) => [g, s.cells[g] ?? { median: null, text: '-', outcomes: [] }]);

const r = (x: number | null): string => (x === null ? '-' : `${x.toFixed(2)}x`);

export function renderTable(rows: Summary[], cols: GatewayName[]): string {
  const withBaseline = cols.includes('baseline');
  // The before/after ratio comes first: it is what a --baseline run is for.
  const head = ['Scenario', 'Unit', 'Better', ...cols, ...(withBaseline ? ['wsgate vs baseline'] : []), 'wsgate vs floor', 'wsgate vs websockify'];
  const body = rows.map((s) => {
    const inv = s.metric.better === 'lower' ? ' (inv)' : '';
    return [
      s.metric.label,
      s.metric.unit,
      s.metric.better,
      ...cellsOf(s, cols).map(([, c]) => c.text),
      ...(withBaseline ? [r(s.vsBaseline ?? null) + inv] : []),
      r(s.vsFloor) + inv,
      r(s.vsWebsockify) + inv,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** One line per round that did not come out clean, so FAILs are explained. */
export function renderNotes(rows: Summary[], cols: GatewayName[]): string[] {
  const notes = new Set<string>();
  for (const s of rows) {
    for (const [gw, cell] of cellsOf(s, cols)) {
      cell.outcomes.forEach((o, i) => {
        if (o.status === 'ok' && !o.note) return;
        // Skips repeat for every row and round: one line per reason is enough.
        if (o.status === 'skipped' || o.status === 'n/a') notes.add(`${gw}: ${o.status} - ${o.note ?? ''}`);
        else notes.add(`${gw} / ${s.metric.label} / round ${i + 1}: ${o.status}${o.note ? ` - ${o.note}` : ''}`);
      });
    }
  }
  return [...notes];
}

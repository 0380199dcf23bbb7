// Turns per-run records into figures, ratios against the same run's baseline, PASS/MISS per
// target, and the Markdown table (README + results/latest.md).
import { fmt, spread, type Spread } from './stats';
import { TARGET_LABEL, type TargetName } from './targets';

export type Figures = Record<string, number | null>;

/** One run: figures keyed `<mode>.<target>.<metric>` (flat, so the JSON stays greppable). */
export interface RunRecord {
  run: number;
  figures: Figures;
  errors: string[];
  raw: Record<string, unknown>;
}

export type Verdict = 'PASS' | 'MISS' | 'INFO' | 'SKIP';

export interface Comparison {
  label: string;
  /** figure key for ours, e.g. pingpong.native.msgsPerSec; for absolute targets the only key */
  ours: string;
  /** figure key for the baseline, or null for absolute targets */
  base: string | null;
  baseLabel?: string;
  op: '>=' | '<=' | 'info';
  /** ratio limit, or absolute limit when base is null (may be a figure key resolved per run) */
  limit?: number | string;
  unit?: string;
  note?: string;
}

export interface Row {
  label: string;
  ours: Spread;
  base: Spread | null;
  baseLabel: string;
  ratio: Spread | null;
  target: string;
  verdict: Verdict;
  note?: string;
}

export function compare(runs: RunRecord[], c: Comparison): Row {
  const ours = spread(runs.map((r) => r.figures[c.ours]));
  const base = c.base ? spread(runs.map((r) => r.figures[c.base!])) : null;
  const ratio = c.base
    ? spread(
        runs.map((r) => {
          const a = r.figures[c.ours];
          const b = r.figures[c.base!];
          return a != null && b != null && b !== 0 ? a / b : null;
        }),
      )
    : null;
  let verdict: Verdict = 'INFO';
  let target = 'info';
  if (c.op !== 'info') {
    let limit: number | null = typeof c.limit === 'number' ? c.limit : null;
    if (typeof c.limit === 'string') limit = spread(runs.map((r) => r.figures[c.limit as string])).median;
    const value = c.base ? ratio!.median : ours.median;
    const unit = c.base ? '×' : c.unit ? ` ${c.unit}` : '';
    target = limit == null ? `${c.op} ?` : `${c.op} ${fmt(limit)}${unit}`;
    if (value == null || limit == null) verdict = 'SKIP';
    else verdict = (c.op === '>=' ? value >= limit : value <= limit) ? 'PASS' : 'MISS';
  }
  return { label: c.label, ours, base, baseLabel: c.baseLabel ?? (c.base ? labelOf(c.base) : ''), ratio, target, verdict, note: c.note };
}

function labelOf(key: string): string {
  const t = key.split('.')[1] as TargetName;
  return TARGET_LABEL[t] ?? t;
}

const cell = (s: Spread | null, unit = '') => {
  if (!s || s.median == null) return 'n/a';
  if (s.n <= 1) return `${fmt(s.median)}${unit}`;
  return `${fmt(s.median)}${unit} (${fmt(s.min)}–${fmt(s.max)})`;
};

export function markdown(rows: Row[]): string {
  const out = ['| figure | wss-mp | baseline (same run) | ratio | target | verdict |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    const base = r.base ? `${cell(r.base)} ${r.baseLabel ? `· ${r.baseLabel}` : ''}` : '—';
    const ratio = r.ratio ? cell(r.ratio, '×') : '—';
    const v = r.verdict === 'INFO' ? 'info' : `**${r.verdict}**`;
    out.push(`| ${r.label}${r.note ? ` (${r.note})` : ''} | ${cell(r.ours)} | ${base} | ${ratio} | ${r.target} | ${v} |`);
  }
  return out.join('\n');
}

/** Per-target raw figures for one mode: median (min–max) of each metric. */
export function detailTable(runs: RunRecord[], mode: string, targets: string[], metrics: [string, string][]): string {
  const present = targets.filter((t) => runs.some((r) => metrics.some(([k]) => r.figures[`${mode}.${t}.${k}`] != null)));
  if (!present.length) return '';
  const out = [`| ${mode} | ${metrics.map(([, l]) => l).join(' | ')} |`, `|---|${metrics.map(() => '---|').join('')}`];
  for (const t of present) {
    const cells = metrics.map(([k]) => cell(spread(runs.map((r) => r.figures[`${mode}.${t}.${k}`]))));
    out.push(`| ${TARGET_LABEL[t as TargetName] ?? t} | ${cells.join(' | ')} |`);
  }
  return out.join('\n');
}

// `--profile`: every Node target runs with --cpu-prof; after the run we print, per profile, the
// functions with the most self time (a text flame graph's leaves). Open the .cpuprofile files in
// Chrome DevTools (Performance → Load profile) or speedscope for the full graph.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: Node[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export function topSelf(file: string, n = 15): { total: number; rows: { name: string; pct: number }[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const self = new Map<number, number>();
  if (p.samples && p.timeDeltas) {
    p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas![i] ?? 0)));
  } else for (const node of p.nodes) self.set(node.id, node.hitCount ?? 0);
  const byName = new Map<string, number>();
  let total = 0;
  for (const node of p.nodes) {
    const t = self.get(node.id) ?? 0;
    if (!t) continue;
    const f = node.callFrame;
    if (f.functionName === '(idle)') continue;
    total += t;
    const where = f.url ? `${f.url.replace(/^file:\/\//, '').replace(/.*node_modules\//, '').replace(/.*\/packages\//, 'packages/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    byName.set(key, (byName.get(key) ?? 0) + t);
  }
  const rows = [...byName.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, t]) => ({ name, pct: (100 * t) / (total || 1) }));
  return { total, rows };
}

export function summarizeProfiles(dir: string, n = 15): string {
  const out: string[] = [`CPU profiles in ${dir} (self time, idle excluded):`];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile')).sort()) {
    const { total, rows } = topSelf(path.join(dir, f), n);
    out.push(`\n${f} (${(total / 1e6).toFixed(2)} s busy)`);
    for (const r of rows) out.push(`  ${r.pct.toFixed(1).padStart(5)} %  ${r.name}`);
  }
  return out.join('\n');
}

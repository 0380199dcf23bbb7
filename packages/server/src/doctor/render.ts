/** Human-readable report: one line per check, its fix indented under every WARN/FAIL/reminder. */
import type { CheckStatus, DoctorReport } from './types';

const COLORS: Record<CheckStatus, string> = { PASS: '32', WARN: '33', FAIL: '31', INFO: '36', SKIP: '2' };
const ID_WIDTH = 21;

export interface RenderOptions {
  /** ANSI colours. @default false */
  color?: boolean;
}

/** The id column: padded, and always followed by two spaces even when too long. */
const col = (label: string) => (label.length >= ID_WIDTH - 1 ? `${label}  ` : label.padEnd(ID_WIDTH));

export function renderReport(r: DoctorReport, opts: RenderOptions = {}): string {
  const paint = (s: CheckStatus, text: string) => (opts.color ? `\x1b[${COLORS[s]}m${text}\x1b[0m` : text);
  const pad = ' '.repeat(6 + ID_WIDTH);
  const lines: string[] = [`wss-mp-server doctor ${r.url}`];
  if (r.target.address) {
    lines.push(
      `  connecting to ${r.target.address.includes(':') ? `[${r.target.address}]` : r.target.address}:${r.target.port}` +
        (r.target.resolvedByOption ? ` (--resolve; SNI and certificate name: ${r.target.host})` : ''),
    );
  }
  lines.push('');
  let inReminders = false;
  for (let i = 0; i < r.checks.length; i++) {
    const c = r.checks[i]!;
    if (c.status === 'SKIP') {
      // One line for a run of checks skipped for the same reason.
      const ids = [c.id];
      while (r.checks[i + 1]?.status === 'SKIP' && r.checks[i + 1]!.summary === c.summary) ids.push(r.checks[++i]!.id);
      const label = ids.length > 1 ? `${ids[0]} … ${ids[ids.length - 1]}` : c.id;
      lines.push(`${paint('SKIP', 'SKIP')}  ${col(label)}${c.summary}${ids.length > 1 ? ` (${ids.length} checks)` : ''}`);
      continue;
    }
    if (c.id.startsWith('remind-') && !inReminders) {
      inReminders = true;
      lines.push('', 'Cannot be checked from outside:');
    }
    lines.push(`${paint(c.status, c.status.padEnd(4))}  ${col(c.id)}${c.summary}`);
    if (c.fix && (c.status === 'WARN' || c.status === 'FAIL' || c.id.startsWith('remind-') || c.id === 'trust-anchor')) {
      lines.push(`${pad}fix: ${c.fix}`);
    }
  }
  const n = r.counts;
  const verdict = r.ok ? (n.WARN ? 'OK with warnings' : 'OK') : 'FAIL';
  lines.push(
    '',
    `${paint(r.ok ? (n.WARN ? 'WARN' : 'PASS') : 'FAIL', verdict)}: ${n.FAIL} fail, ${n.WARN} warn, ${n.PASS} pass, ${n.INFO} info, ${n.SKIP} skipped in ${r.durationMs} ms`,
  );
  return lines.join('\n') + '\n';
}

// Which wss-mp-server flags the benchmark passes. The idle mode holds 10,000 connections from
// loopback and the storm 2,000, so the server's connection caps (total and per IP) must be lifted
// or the benchmark measures the caps, not the server. We read `--help` so the suite keeps working
// while the CLI evolves, and record what we passed in the results.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SERVER_CLI } from '../../support/server';

export interface BenchFlags {
  /** Flags added to every wss-mp-server start. */
  flags: string[];
  /** Flag that turns the plain-HTTP detection on the TLS port off, if the server has one. */
  detectOffFlag: string | null;
  /** Flag that turns it on, if it is opt-in. */
  detectOnFlag: string | null;
  /** Flag that turns write coalescing off (the native-nocork target), if the server has one. */
  coalesceOffFlag: string | null;
  help: string;
}

/** Connections the benchmark may hold at once (idle 10,000 + slack). */
export const BENCH_MAX_CONNECTIONS = 20_000;

export async function serverFlagsForBench(): Promise<BenchFlags> {
  if (!existsSync(SERVER_CLI)) return { flags: [], detectOffFlag: null, detectOnFlag: null, coalesceOffFlag: null, help: '' };
  const r = spawnSync(process.execPath, [SERVER_CLI, '--help'], { encoding: 'utf8', timeout: 10_000 });
  const help = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  const has = (flag: string) => new RegExp(`(^|[\\s,\\[])${flag.replace(/-/g, '\\-')}(?=[\\s=,\\]<]|$)`, 'm').test(help);
  const flags: string[] = [];
  if (has('--quiet')) flags.push('--quiet');
  for (const f of ['--max-connections', '--max-conns']) if (has(f)) {
    flags.push(f, String(BENCH_MAX_CONNECTIONS));
    break;
  }
  for (const f of ['--max-connections-per-ip', '--max-per-ip', '--per-ip-limit', '--max-conns-per-ip']) if (has(f)) {
    flags.push(f, String(BENCH_MAX_CONNECTIONS));
    break;
  }
  let detectOffFlag: string | null = null;
  let detectOnFlag: string | null = null;
  for (const f of ['--no-plain-http-answer', '--no-plain-http-detect', '--no-http-detect', '--no-plain-http-400', '--no-detect-plain-http']) if (has(f)) detectOffFlag = f;
  for (const f of ['--plain-http-detect', '--http-detect', '--plain-http-400', '--detect-plain-http']) if (has(f)) detectOnFlag = f;
  const coalesceOffFlag = has('--no-coalesce-writes') ? '--no-coalesce-writes' : null;
  return { flags, detectOffFlag, detectOnFlag, coalesceOffFlag, help };
}

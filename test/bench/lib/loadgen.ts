// Drives one load-generator process (../loadgen/loadgen.mjs) against a running target and samples
// the server's CPU time (/proc) exactly at the window's start and end lines.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnPinned, lines, stopProcess, treeCpuSeconds, rssBytes, sleep } from './proc';
import type { RunningTarget } from './targets';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LOADGEN = path.join(HERE, '../loadgen/loadgen.mjs');

export interface LoadConfig {
  mode: 'pingpong' | 'throughput' | 'burst' | 'handshake' | 'idle';
  conns: number;
  size?: number;
  /** burst: frames the server answers each request with */
  burst?: number;
  window?: number;
  warmupMs?: number;
  durationMs?: number;
  idleSteps?: number[];
  openConcurrency?: number;
  localAddresses?: string[];
  deadlineMs?: number;
  /** idle: every connection a wss-mp.v1 user with a JWT signed with `secret`, subscribed to `$user` and `roomsPerConn` of `rooms` channels. */
  messaging?: { secret: string; rooms: number; roomsPerConn: number };
}

export type LoadResult = Record<string, number | string | string[] | null> & {
  /** Server CPU seconds spent inside the window (server + its child processes). */
  serverCpuSeconds: number;
  /** serverCpuSeconds / window seconds (1.0 = one core busy). */
  serverCpuUtil: number;
  seconds: number;
};

/** The process that makes the load: ../loadgen/loadgen.mjs unless `script` names another. */
export interface Script {
  /** node flags before the script, e.g. ['--import', 'tsx', '--expose-gc'] */
  nodeArgs: string[];
  path: string;
}

function spawnLoad<C extends { mode: string }>(target: RunningTarget, cfg: C, ca: string, core: string | null, script?: Script) {
  const full = { ...cfg, kind: target.kind, url: target.url, ca };
  const args = script ? [...script.nodeArgs, script.path] : [LOADGEN];
  return spawnPinned(process.execPath, [...args, JSON.stringify(full)], { core, stdin: cfg.mode === 'idle' });
}

/**
 * Follows a load-generator process: each JSON line of its output goes to `onMessage`, a
 * `{"phase":"error"}` line is kept as the failure, and the process is killed 10 s after its own
 * deadline. Resolves when it exits, with its exit code and why it failed (that error, else the
 * last lines it printed).
 */
function followLoadgen(proc: ChildProcess, deadlineMs: number, onMessage: (msg: Record<string, unknown>) => void): Promise<{ code: number | null; failure: string }> {
  return new Promise((resolve) => {
    let error: string | null = null;
    const output = lines(proc, (l) => {
      if (!l.startsWith('{')) return;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(l);
      } catch {
        return;
      }
      if (msg.phase === 'error') error = String(msg.message);
      else onMessage(msg);
    });
    const hard = setTimeout(() => proc.kill('SIGKILL'), deadlineMs + 10_000);
    proc.once('exit', (code) => {
      clearTimeout(hard);
      resolve({ code, failure: error ?? output.slice(-10).join('\n') });
    });
  });
}

/** pingpong / throughput / handshake (or a client script): one window, CPU sampled at its edges. */
export async function runWindow<C extends { mode: string; warmupMs?: number; durationMs?: number; deadlineMs?: number }>(
  target: RunningTarget,
  cfg: C,
  ca: string,
  core: string | null,
  script?: Script,
): Promise<LoadResult> {
  const deadlineMs = cfg.deadlineMs ?? (cfg.warmupMs ?? 1000) + (cfg.durationMs ?? 3000) + 30_000;
  const proc = spawnLoad(target, { ...cfg, deadlineMs }, ca, core, script);
  let cpu0 = 0;
  let result = null as LoadResult | null;
  const { code, failure } = await followLoadgen(proc, deadlineMs, (msg) => {
    if (msg.phase === 'start') cpu0 = treeCpuSeconds(target.cpuPids);
    else if (msg.phase === 'end') {
      const cpu = treeCpuSeconds(target.cpuPids) - cpu0;
      const seconds = msg.seconds as number;
      const { phase: _p, ...rest } = msg;
      result = { ...(rest as LoadResult), serverCpuSeconds: cpu, serverCpuUtil: cpu / seconds, seconds };
    }
  });
  if (!result) throw new Error(`load generator (${cfg.mode} → ${target.name}) failed (exit ${code}): ${failure}`);
  return result;
}

export interface IdleStep {
  conns: number;
  rssBytes: number;
  /** (RSS at this step − RSS with no connections) / conns */
  rssPerConn: number;
  openSeconds: number;
  errors: number;
}

/**
 * idle: RSS with no client (after a short warm-up burst that the load generator does not do;
 * the server is fresh), then at each step of held connections after `settleMs`.
 */
export async function runIdle(target: RunningTarget, cfg: LoadConfig, ca: string, core: string | null, settleMs = 1500): Promise<{ rss0: number; steps: IdleStep[] }> {
  await sleep(300);
  const rss0 = rssBytes(target.rssPid);
  const deadlineMs = cfg.deadlineMs ?? 180_000;
  const proc = spawnLoad(target, { ...cfg, deadlineMs }, ca, core);
  const steps: IdleStep[] = [];
  const { code, failure } = await followLoadgen(proc, deadlineMs, (msg) => {
    if (msg.phase !== 'held') return;
    void (async () => {
      await sleep(settleMs);
      const rss = rssBytes(target.rssPid);
      const n = msg.n as number;
      steps.push({ conns: n, rssBytes: rss, rssPerConn: (rss - rss0) / n, openSeconds: msg.openSeconds as number, errors: msg.errors as number });
      proc.stdin?.write('next\n');
    })();
  });
  if (code !== 0 || !steps.length) throw new Error(`idle load generator → ${target.name} failed (exit ${code}): ${failure}`);
  return { rss0, steps };
}

export { stopProcess };

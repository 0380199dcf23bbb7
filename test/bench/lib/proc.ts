// Processes for the benchmark: spawn pinned to a core with a raised file-descriptor limit, wait
// for "listening on <url>", and read CPU time and RSS from /proc (Linux only).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { createInterface } from 'node:readline';

/** Cores this process may run on (taskset/cgroup aware), at least 1. */
export function usableCores(): number {
  const r = spawnSync('nproc', { encoding: 'utf8' });
  const n = Number.parseInt(r.stdout, 10);
  return Number.isFinite(n) && n > 0 ? n : os.availableParallelism();
}

/** The plan: the server side gets core 0, load generators and clients core 1 (when there are 2+). */
export interface Pinning {
  server: string | null;
  load: string | null;
}

export function pinning(): Pinning {
  return usableCores() >= 2 ? { server: '0', load: '1' } : { server: null, load: null };
}

export const HAVE_TASKSET = spawnSync('sh', ['-c', 'command -v taskset'], { encoding: 'utf8' }).status === 0;

/** Hard limit for open files; the spawned shell raises its soft limit to this. */
export function nofileHard(): number {
  const r = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' });
  const v = r.stdout.trim();
  return v === 'unlimited' ? 1_048_576 : Number.parseInt(v, 10) || 1024;
}

export interface SpawnOptions {
  core?: string | null;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Pipe stdin (for processes the orchestrator talks to). */
  stdin?: boolean;
}

/**
 * Spawns `cmd args` through `sh -c 'ulimit -n <hard>; exec taskset -c <core> "$@"'`. Both `exec`s
 * keep the pid, so the returned process's pid is the program's own pid (what /proc needs).
 */
export function spawnPinned(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  const pin = opts.core != null && HAVE_TASKSET ? `taskset -c ${opts.core} ` : '';
  const script = `ulimit -n ${nofileHard()} 2>/dev/null; exec ${pin}"$@"`;
  return spawn('sh', ['-c', script, 'sh', cmd, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
}

/** Collects stdout+stderr lines (for error messages) and calls `onLine` for each. */
export function lines(proc: ChildProcess, onLine: (line: string) => void): string[] {
  const seen: string[] = [];
  const push = (l: string) => {
    seen.push(l);
    if (seen.length > 200) seen.shift();
    onLine(l);
  };
  if (proc.stdout) createInterface({ input: proc.stdout }).on('line', push);
  if (proc.stderr) createInterface({ input: proc.stderr }).on('line', push);
  return seen;
}

/** Resolves with the URL from the first "listening on <url>" line; rejects on exit or timeout. */
export function waitListening(proc: ChildProcess, what: string, timeout = 20_000): Promise<{ url: string; output: string[] }> {
  return new Promise((resolve, reject) => {
    let done = false;
    const output = lines(proc, (l) => {
      const m = /listening on ((?:wss?|https?|tls):\/\/[^\s"]+)/.exec(l);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        resolve({ url: m[1]!, output });
      }
    });
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      proc.kill('SIGKILL');
      reject(new Error(`${what}: no "listening on" within ${timeout} ms\n${output.join('\n')}`));
    }, timeout);
    proc.once('exit', (code, sig) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? sig}) before listening:\n${output.join('\n')}`));
    });
  });
}

/** Sends `signal`, SIGKILLs after `grace` ms, resolves when the process is gone. */
export function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', grace = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill('SIGKILL'), grace);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill(signal);
  });
}

const TICK = 1 / 100; // USER_HZ is 100 on Linux; getconf CLK_TCK confirms on this machine.

/** Child pids of `pid`, recursively (nginx master → workers). */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    let kids = '';
    try {
      kids = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const k of kids.trim().split(/\s+/).filter(Boolean).map(Number)) out.push(k, ...descendants(k));
  }
  return out;
}

/** user+system CPU seconds of one process (all its threads). 0 if it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces; everything after the last ')' is space-separated.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK; // utime, stime (fields 14, 15)
  } catch {
    return 0;
  }
}

/** Sum of CPU seconds over `pids` and their descendants. */
export function treeCpuSeconds(pids: number[]): number {
  const all = new Set<number>();
  for (const p of pids) {
    all.add(p);
    for (const d of descendants(p)) all.add(d);
  }
  let s = 0;
  for (const p of all) s += cpuSeconds(p);
  return s;
}

/** Resident set size in bytes (VmRSS), 0 if the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

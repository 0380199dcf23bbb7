// Starts the real wss-mp-server CLI (built dist) as a child process on a random port and
// follows its JSON log lines. Every e2e suite uses this; see packages/server/README.md for
// the log format. Contract with the CLI: a stdout line containing "listening on <url>".
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { DeadlineError } from './wait';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SERVER_CLI = path.join(ROOT, 'packages/server/dist/cli.js');

export interface LogLine {
  event?: string;
  [k: string]: unknown;
}

export interface RunningServer {
  /** The URL the server printed, e.g. wss://localhost:41234/wss */
  url: string;
  port: number;
  proc: ChildProcess;
  /** Every JSON log line seen so far (non-JSON lines land in `text`). */
  logs: LogLine[];
  text: string[];
  /** Resolves with the first log line (past or future) matching `pred`. */
  waitForLog(pred: (l: LogLine) => boolean, timeout?: number): Promise<LogLine>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code once the process exits. */
  stop(signal?: NodeJS.Signals, timeout?: number): Promise<number | null>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  timeout?: number;
  cwd?: string;
}

/** `args` are CLI flags; `--port 0` is added unless a --port is given. */
export function startServer(args: string[], opts: StartOptions = {}): Promise<RunningServer> {
  const full = args.includes('--port') ? args : [...args, '--port', '0'];
  const proc = spawn(process.execPath, [SERVER_CLI, ...full], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const text: string[] = [];
  const bus = new EventEmitter();
  // 'close', not 'exit': it comes after stdout/stderr are drained, so logs are complete.
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  const onLine = (line: string) => {
    if (line.startsWith('{')) {
      try {
        const obj = JSON.parse(line) as LogLine;
        logs.push(obj);
        bus.emit('log', obj);
      } catch {
        text.push(line);
      }
    } else text.push(line);
    bus.emit('line', line);
  };
  createInterface({ input: proc.stdout! }).on('line', onLine);
  createInterface({ input: proc.stderr! }).on('line', onLine);

  const waitForLog = (pred: (l: LogLine) => boolean, timeout = 10_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const hit = logs.find(pred);
      if (hit) return resolve(hit);
      const timer = setTimeout(() => {
        bus.off('log', on);
        reject(new DeadlineError(`log line matching ${pred.toString()}`, timeout));
      }, timeout);
      const on = (l: LogLine) => {
        if (pred(l)) {
          clearTimeout(timer);
          bus.off('log', on);
          resolve(l);
        }
      };
      bus.on('log', on);
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeout = 10_000) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
    proc.kill(signal);
    const t = setTimeout(() => proc.kill('SIGKILL'), timeout);
    const code = await exited;
    clearTimeout(t);
    return code;
  };

  return new Promise((resolve, reject) => {
    const timeout = opts.timeout ?? 15_000;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new DeadlineError(`"listening on" from wss-mp-server ${full.join(' ')}\n${text.join('\n')}`, timeout));
    }, timeout);
    const onReady = (line: string) => {
      const m = /listening on ((?:wss?|https?):\/\/[^\s"]+)/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      bus.off('line', onReady);
      const url = m[1]!;
      resolve({ url, port: Number(new URL(url).port), proc, logs, text, waitForLog, stop });
    };
    bus.on('line', onReady);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`wss-mp-server exited with ${code} before listening:\n${text.join('\n')}`));
    });
  });
}

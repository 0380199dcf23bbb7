// A real redis-server per test: its own port (redis cannot bind port 0, so startOnFreePort), its
// own --dir in a temporary directory, stopped by PID. `restart()` starts it again on the same
// port and directory (with appendonly the data survives); `pause()`/`resume()` SIGSTOP/SIGCONT it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startOnFreePort } from './ports';
import { within } from './wait';

export interface RunningRedis {
  port: number;
  url: string;
  dir: string;
  proc: ChildProcess;
  /** Stops (SIGTERM by default: with appendonly, everything acknowledged is on disk) and starts again on the same port. */
  restart(signal?: NodeJS.Signals): Promise<void>;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export interface RedisStartOptions {
  /** appendonly yes (fsync always): data survives a restart. @default false */
  appendonly?: boolean;
}

function launch(bin: string, port: number, dir: string, o: RedisStartOptions): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--protected-mode', 'yes',
    '--appendonly', o.appendonly ? 'yes' : 'no', '--appendfsync', 'always', '--loglevel', 'warning'];
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const ready = (async () => {
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out}`))));
    // Ready = answers PING on its port.
    for (;;) {
      const ok = await Promise.race([exited, ping(port)]);
      if (ok) return proc;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return within(ready, 15_000, 'redis-server to answer PING').catch((err) => {
    proc.kill('SIGKILL');
    throw err;
  });
}

/** One PING over a raw socket: true on +PONG. */
export function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(1000, () => done(false));
    s.on('error', () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

function exitOf(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGCONT');
  proc.kill(signal);
  return within(exited, 10_000, 'redis-server to exit');
}

export async function startRedis(bin: string, o: RedisStartOptions = {}): Promise<RunningRedis> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-redis-'));
  let proc!: ChildProcess;
  const port = await startOnFreePort(async (p) => {
    proc = await launch(bin, p, dir, o);
    return p;
  });
  const r: RunningRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    proc,
    async restart(signal = 'SIGTERM') {
      await exitOf(r.proc, signal);
      r.proc = await launch(bin, port, dir, o);
    },
    pause: () => void r.proc.kill('SIGSTOP'),
    resume: () => void r.proc.kill('SIGCONT'),
    async stop() {
      await exitOf(r.proc, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return r;
}

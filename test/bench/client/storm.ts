// Reconnect storm (docs/client-scenarios.md#reconnect-storms), orchestrator half. N clients on the wx shim connect to
// wss-mp-server (native TLS, server core); we SIGKILL the server, each client queues K messages,
// and after the outage the server comes back on the same port. Measured in the client process:
// every connectSocket call (attempts), when each client is open again, and whether its queued
// messages come back from the echo complete and in order.
import type { ChildProcess } from 'node:child_process';
import { lines, spawnPinned, stopProcess, sleep } from '../lib/proc';
import type { Plan } from '../lib/plan';
import { peakInWindow } from '../lib/stats';
import { startWssMp, nativeArgs, type TargetContext } from '../lib/targets';
import { CLIENT_PROC } from './client-bench';

export interface StormArgs {
  lib: 'wss-mp-client' | 'reconnecting-websocket';
  plan: Plan;
  ctx: TargetContext;
  loadCore: string | null;
  log: (s: string) => void;
}

const wall = () => performance.timeOrigin + performance.now();

export async function runStorm(a: StormArgs): Promise<{ figures: Record<string, number | null>; raw: Record<string, unknown> }> {
  const ctx = { ...a.ctx, profileDir: null };
  const variant = a.lib === 'wss-mp-client' ? 'sdk' : 'rws';
  let server = await startWssMp(ctx, nativeArgs(ctx), 'storm');
  const port = Number(new URL(server.url).port);
  const url = `wss://127.0.0.1:${port}/wss`;
  const N = a.plan.stormClients;
  const K = a.plan.stormMessages;
  const cfg = { mode: 'storm', variant, url, ca: ctx.certs.ca, conns: N, messages: K, deadlineMs: 240_000 };
  const proc = spawnPinned(process.execPath, [...CLIENT_PROC.nodeArgs, CLIENT_PROC.path, JSON.stringify(cfg)], { core: a.loadCore, stdin: true });
  const msgs: Record<string, any>[] = [];
  let waiter: ((m: Record<string, any>) => void) | null = null;
  const output = lines(proc, (l) => {
    if (!l.startsWith('{')) return;
    try {
      const m = JSON.parse(l);
      msgs.push(m);
      waiter?.(m);
    } catch {}
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const next = (phase: string, timeout: number) =>
    new Promise<Record<string, any>>((resolve, reject) => {
      const hit = msgs.find((m) => m.phase === phase || m.phase === 'error');
      const done = (m: Record<string, any>) => {
        clearTimeout(t);
        waiter = null;
        if (m.phase === 'error') reject(new Error(`storm client: ${m.message}`));
        else resolve(m);
      };
      const t = setTimeout(() => {
        waiter = null;
        reject(new Error(`storm: no "${phase}" within ${timeout} ms\n${output.slice(-10).join('\n')}`));
      }, timeout);
      if (hit) return done(hit);
      waiter = (m) => {
        if (m.phase === phase || m.phase === 'error') done(m);
      };
      void exited.then(() => setTimeout(() => waiter && reject(new Error(`storm client exited\n${output.slice(-10).join('\n')}`)), 50));
    });

  let restarted: ChildProcess | null = null;
  try {
    const connected = await next('connected', 150_000);
    a.log(`${a.lib}: ${connected.n} clients connected in ${connected.seconds.toFixed(1)} s`);
    await sleep(500);
    const killAt = wall();
    server.proc.kill('SIGKILL');
    await new Promise<void>((r) => (server.proc.exitCode !== null || server.proc.signalCode !== null ? r() : server.proc.once('exit', () => r())));
    proc.stdin!.write(`down ${killAt}\n`);
    const queued = await next('queued', 20_000);
    const wait = killAt + a.plan.stormOutageMs - wall();
    if (wait > 0) await sleep(wait);
    server = await startWssMp(ctx, nativeArgs(ctx), 'storm', port);
    restarted = server.proc;
    const upAt = wall();
    const backoffMaxMs = Number(connected.backoffMaxMs) || 30_000;
    const limitMs = backoffMaxMs + 5000;
    // Keep measuring a little past the target so a miss shows by how much.
    proc.stdin!.write(`up ${upAt} ${limitMs + 10_000}\n`);
    const end = await next('end', limitMs + 30_000);
    const attempts: number[] = end.attempts;
    const outage = attempts.filter((t) => t < upAt - killAt);
    const after = attempts.filter((t) => t >= upAt - killAt);
    const r: Record<string, any> = {
      ...end,
      attempts: undefined,
      outageMs: upAt - killAt,
      queuedInfo: queued,
      totalAttempts: attempts.length,
      attemptsPerClientDuringOutage: outage.length / N,
      peakAttempts100ms: peakInWindow(attempts, 100),
      peakAttempts100msOutage: peakInWindow(outage, 100),
      peakAttempts100msAfterRestart: peakInWindow(after, 100),
      // Attempts per 100 ms bucket from the kill: a coarse timeline for the JSON.
      timeline100ms: bucket(attempts, 100),
      limitSeconds: limitMs / 1000,
      peakLimit: Math.floor(N * 0.1),
    };
    a.log(
      `${a.lib}: 99 % back ${r.backSeconds?.toFixed(1) ?? 'never'} s after restart (limit ${limitMs / 1000} s), ` +
        `peak ${r.peakAttempts100ms} attempts/100 ms (outage ${r.peakAttempts100msOutage}, after restart ${r.peakAttempts100msAfterRestart}; limit ${r.peakLimit}), ` +
        `${r.delivered}/${r.queued} queued messages delivered in order (${r.reordered} out of order), ${r.attemptsPerClientDuringOutage.toFixed(1)} attempts/client while down`,
    );
    const k = (m: string) => `storm.${a.lib}.${m}`;
    return {
      figures: {
        [k('backSeconds')]: r.backSeconds,
        [k('limitSeconds')]: r.limitSeconds,
        [k('peakAttempts100ms')]: r.peakAttempts100ms,
        [k('peakLimit')]: r.peakLimit,
        [k('lost')]: r.lost, // not delivered in order (a reordered message counts)
        [k('attemptsPerClient')]: r.attemptsPerClientDuringOutage,
      },
      raw: r,
    };
  } finally {
    proc.kill('SIGKILL');
    await exited;
    await stopProcess(server.proc);
    if (restarted && restarted !== server.proc) await stopProcess(restarted);
  }
}

function bucket(ts: number[], width: number): number[] {
  if (!ts.length) return [];
  const out = new Array<number>(Math.floor(Math.max(...ts) / width) + 1).fill(0);
  for (const t of ts) if (t >= 0) out[Math.floor(t / width)]!++;
  return out;
}

// The `flood` mode of `pnpm bench` (issue 16: "a flooding client is limited and then closed;
// other clients' latency stays within 1.2× of an unloaded run"). One wss-mp-server (native TLS,
// --messaging, default rate limits) on the server core; on the load core, one process of
// well-behaved wss-mp.v1 clients (requests paced well inside the limits, round trips measured)
// and, for the flooded window only, one process of flooders (clients.mjs). Both windows run
// against the same server and the same well-behaved connections, one after the other, their order
// swapped from run to run.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plan } from '../lib/plan';
import { cpuSeconds, lines, spawnPinned, stopProcess, treeCpuSeconds } from '../lib/proc';
import { nativeArgs, startWssMp, to127, type TargetContext } from '../lib/targets';

const CLIENTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'clients.mjs');
/** A well-behaved client's requests: one each 50 ms (20/s), well inside the default 50/s. */
const STEADY_INTERVAL_MS = 50;
const REQUEST_BYTES = 32;

type Msg = Record<string, unknown>;

/**
 * A clients.mjs process: its JSON lines in order, and a way to wait for the next of a phase.
 * `nice`: the flooders share the load core with the measured clients and would take all of it
 * (they send as fast as they can); at nice 19 they get what the measured clients leave, so the
 * latency measured is the server's, not the scheduler's on the client side.
 */
function clients(cfg: Record<string, unknown>, core: string | null, nice = false) {
  const node = [process.execPath, CLIENTS, JSON.stringify(cfg)];
  // taskset execs nice, which execs node: the pid stays the one /proc is read for.
  const proc = nice ? spawnPinned('nice', ['-n', '19', ...node], { core, stdin: true }) : spawnPinned(node[0]!, node.slice(1), { core, stdin: true });
  const waiting: { phase: string; resolve: (m: Msg) => void; reject: (e: Error) => void }[] = [];
  let failed: Error | null = null;
  const failAll = (e: Error) => {
    failed ??= e;
    for (const w of waiting.splice(0)) w.reject(failed);
  };
  const output = lines(proc, (l) => {
    if (!l.startsWith('{')) return;
    let m: Msg;
    try {
      m = JSON.parse(l);
    } catch {
      return;
    }
    if (m.phase === 'error') return failAll(new Error(`flood clients (${cfg.role}): ${m.message}`));
    const i = waiting.findIndex((w) => w.phase === m.phase);
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(m);
  });
  proc.once('exit', (code) => failAll(new Error(`flood clients (${cfg.role}) exited (${code}): ${output.slice(-5).join('\n')}`)));
  return {
    proc,
    send: (line: string) => proc.stdin!.write(`${line}\n`),
    /** The next line of `phase`, within `ms`. */
    next(phase: string, ms: number): Promise<Msg> {
      if (failed) return Promise.reject(failed);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`flood clients (${cfg.role}): no "${phase}" within ${ms} ms`)), ms);
        waiting.push({ phase, resolve: (m) => (clearTimeout(t), resolve(m)), reject: (e) => (clearTimeout(t), reject(e)) });
      });
    },
  };
}

export interface FloodResult {
  figures: Record<string, number>;
  raw: Record<string, unknown>;
}

/**
 * Every bench client is on loopback, which the server exempts from its per-address defences by
 * default (local tools, a proxy on the same host) and trusts as a proxy. Here the clients stand
 * for remote phones: `--rate-limit-loopback` and `--trust-proxy none` make the server treat each
 * 127.x source address as the client's own. The well-behaved clients keep the usual 40 source
 * addresses (127.0.0.11…); each flooder has one of its own, outside them.
 */
const SERVER_FLAGS = ['--messaging', '--rate-limit-loopback', '--trust-proxy', 'none'];
const floodAddresses = (n: number) => Array.from({ length: n }, (_, k) => `127.0.1.${k + 1}`);

export async function runFlood(opts: { plan: Plan; ctx: TargetContext; loadCore: string | null; run: number; log: (s: string) => void }): Promise<FloodResult> {
  const { plan, ctx, loadCore, run, log } = opts;
  const windowMs = plan.floodWindowMs;
  const server = await startWssMp(ctx, [...nativeArgs(ctx), ...SERVER_FLAGS], 'flood');
  const url = to127(server.url);
  const base = { url, ca: ctx.certs.ca, size: REQUEST_BYTES, localAddresses: plan.localAddresses };
  const figures: Record<string, number> = {};
  const raw: Record<string, unknown> = {};
  const procs: ChildProcess[] = [];
  try {
    const steady = clients({ ...base, role: 'steady', conns: plan.floodSteadyClients, intervalMs: STEADY_INTERVAL_MS, deadlineMs: 4 * windowMs + 120_000 }, loadCore);
    procs.push(steady.proc);
    await steady.next('ready', 60_000);
    await new Promise((r) => setTimeout(r, plan.warmupMs));

    const measure = async (name: 'unloaded' | 'flooded') => {
      const cpu0 = treeCpuSeconds([server.proc.pid!]);
      steady.send(`measure ${name} ${windowMs}`);
      const w = await steady.next('window', windowMs + 30_000);
      const cpu = treeCpuSeconds([server.proc.pid!]) - cpu0;
      raw[name] = w;
      const f = (k: string, v: unknown) => typeof v === 'number' && (figures[`flood.${name}.${k}`] = v);
      f('rttP50Ms', w.p50);
      f('rttP99Ms', w.p99);
      f('rttMaxMs', w.max);
      f('requestsPerSec', w.perSec);
      // /proc counts CPU in 10 ms ticks: a short (--quick) window of this light load can read 0,
      // which is below the resolution, not free; no figure then rather than a ratio of 0.
      if (cpu > 0) f('serverCpuUtil', cpu / (w.seconds as number));
      // Well-behaved clients must never be limited or cut, flood or not.
      f('steadyLimited', w.limited);
      f('steadyClosed', w.closed);
      f('steadyHarmed', (w.limited as number) + (w.closed as number));
      log(`${name.padEnd(9)} ${plan.floodSteadyClients} clients × 1 request/${STEADY_INTERVAL_MS} ms: ${Math.round(w.perSec as number)} req/s, ` +
        `p50 ${(w.p50 as number)?.toFixed(2)} p99 ${(w.p99 as number)?.toFixed(2)} max ${(w.max as number)?.toFixed(1)} ms, server CPU ${((cpu / (w.seconds as number)) * 100).toFixed(0)} %, ${w.limited} limited, ${w.closed} closed`);
    };

    const flooded = async () => {
      const flood = clients({ ...base, role: 'flood', conns: plan.flooders, floodAddresses: floodAddresses(plan.flooders),
        deadlineMs: 2 * windowMs + 120_000 }, loadCore, true);
      procs.push(flood.proc);
      // The window starts once the flood is in its cycle (limited, closed, back): after the
      // server's first cut, and a warm-up.
      const first = await flood.next('cut', 60_000);
      log(`flooders: first cut with ${first.code}`);
      await new Promise((r) => setTimeout(r, plan.warmupMs));
      const fcpu0 = cpuSeconds(flood.proc.pid!);
      await measure('flooded');
      const floodCpu = cpuSeconds(flood.proc.pid!) - fcpu0;
      flood.send('stop');
      const end = await flood.next('end', 30_000);
      await stopProcess(flood.proc);
      raw.flooders = { ...end, flooders: plan.flooders, cpuSecondsInWindow: floodCpu };
      const cuts = end.cuts as Record<string, number>;
      const rateLimited = cuts['4029'] ?? 0;
      const other = Object.entries(cuts).reduce((a, [code, n]) => a + (code === '4029' ? 0 : n), 0);
      figures['flood.cuts4029'] = rateLimited;
      figures['flood.cutsOther'] = other;
      figures['flood.flooderConnects'] = end.connects as number;
      figures['flood.flooderRefused'] = end.connectErrors as number;
      figures['flood.flooderSent'] = end.sent as number;
      figures['flood.flooderAcked'] = end.acks as number;
      log(`flooders: ${plan.flooders} sent ${end.sent} requests, ${end.acks} answered, ${end.rateLimitedFrames} RATE_LIMITED errors; ` +
        `cut ${Object.entries(cuts).map(([c, n]) => `${n}× ${c}`).join(', ') || 'never'}; ${end.connects} connections; ${end.connectErrors} attempts refused ` +
        `(${Object.entries(end.refused as Record<string, number>).map(([how, n]) => `${n}× ${how}`).join(', ') || '-'})`);
    };

    // Alternate which window goes first, so neither always meets a fresher server.
    if (run % 2 === 1) {
      await measure('unloaded');
      await flooded();
    } else {
      await flooded();
      await measure('unloaded');
    }
    steady.send('quit');
    return { figures, raw };
  } finally {
    for (const p of procs) await stopProcess(p, 'SIGKILL');
    await stopProcess(server.proc);
  }
}

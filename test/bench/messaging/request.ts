// Request/ack vs plain echo (issue 14: "≤ 1.2× CPU per message"), measured like the server modes:
// wss-mp-server (the CLI, --messaging, no rate limits: a closed loop is far over the default
// 50 messages/s per connection, and this measures a request, not the limiter) alone on the server
// core, the load generator (request-load.mjs) on the other, server CPU from /proc at the window's
// edges. One server for both windows; same connections count, one message in flight each, the
// same frames both ways; the order of the two windows alternates from run to run.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWindow, type LoadResult } from '../lib/loadgen';
import type { Plan } from '../lib/plan';
import { stopProcess } from '../lib/proc';
import { startWssMp, type RunningTarget, type TargetContext } from '../lib/targets';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'request-load.mjs');
export const REQUEST_BYTES = 32;

export async function runRequestBench(opts: { plan: Plan; ctx: TargetContext; loadCore: string | null; run: number; log: (s: string) => void }) {
  const { plan, ctx, loadCore, run, log } = opts;
  const p = await startWssMp(ctx, ['--behind-proxy', '--messaging', '--no-rate-limit'], 'request');
  const target: RunningTarget = { name: 'native', url: p.url, kind: 'ws', cpuPids: [p.proc.pid!], rssPid: p.proc.pid!, stop: () => stopProcess(p.proc) };
  const figures: Record<string, number> = {};
  const raw: Record<string, LoadResult> = {};
  try {
    const order = run % 2 === 1 ? (['echo', 'request'] as const) : (['request', 'echo'] as const);
    for (const mode of order) {
      const r = await runWindow(
        target,
        { mode, conns: plan.pingpongConns, size: REQUEST_BYTES, warmupMs: plan.warmupMs, durationMs: plan.durationMs, localAddresses: plan.localAddresses },
        '',
        loadCore,
        { nodeArgs: [], path: SCRIPT },
      );
      // A window in which the server answered something else (an error, an echo on the
      // wss-mp.v1 connection) compares nothing.
      if ((r.wrong as number) > 0) throw new Error(`${mode}: ${r.wrong} of ${r.msgs} answers were not ${mode === 'echo' ? 'the echo' : 'an ack'}`);
      raw[mode] = r;
      const k = mode === 'echo' ? 'echo' : 'reqAck';
      figures[`messaging.request.${k}PerSec`] = r.msgsPerSec as number;
      figures[`messaging.request.${k}CpuUsPerMsg`] = (r.serverCpuSeconds * 1e6) / (r.msgs as number);
      figures[`messaging.request.${k}ServerCpuUtil`] = r.serverCpuUtil;
      log(`${mode.padEnd(7)} ${plan.pingpongConns} conns × 1 in flight: ${Math.round(r.msgsPerSec as number)} msgs/s, server CPU ${((r.serverCpuSeconds * 1e6) / (r.msgs as number)).toFixed(2)} µs/msg ` +
        `(${(r.serverCpuUtil * 100).toFixed(0)} % of a core), ${(r.bytesOutPerMsg as number).toFixed(0)} B out / ${(r.bytesInPerMsg as number).toFixed(0)} B back per message`);
    }
  } finally {
    await target.stop();
  }
  return { figures, raw };
}

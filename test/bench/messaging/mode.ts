// The `messaging` mode of `pnpm bench`: runs the messaging benches (each a script of its own,
// so that 10,000 sockets per side fit in a process's descriptor limit) and collects their
// figures for the report: fan-out against a bare ws loop, request/ack against the plain echo,
// recovery of many clients cut at once.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../../support/server';
import type { Plan } from '../lib/plan';

const tsx = (script: string, args: (string | number)[], timeoutMs: number, env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args.map(String)], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`${script} exited ${r.status ?? r.signal}\n${(r.stdout + r.stderr).slice(-2000)}`);
  return r.stdout.trim().split('\n');
};

export function runMessagingBench(plan: Plan, log: (s: string) => void): { figures: Record<string, number>; raw: Record<string, unknown> } {
  const figures: Record<string, number> = {};
  const raw: Record<string, unknown> = {};
  plan.fanoutSubscribers.forEach((n, i) => {
    const out = JSON.parse(tsx('test/bench/messaging/fanout.ts', [n, plan.fanoutPublications, 1], 600_000).at(-1)!);
    raw[`fanout@${n}`] = out;
    figures[`messaging.fanout.ours.deliveriesPerSec@${i}`] = out.messaging.rate;
    figures[`messaging.fanout.raw.deliveriesPerSec@${i}`] = out.raw.rate;
    figures[`messaging.fanout.ours.p99Ms@${i}`] = out.messaging.p99;
    figures[`messaging.fanout.raw.p99Ms@${i}`] = out.raw.p99;
    log(`fan-out to ${n}: ${Math.round(out.messaging.rate)} deliveries/s (p99 ${out.messaging.p99.toFixed(1)} ms), bare ws ${Math.round(out.raw.rate)} (p99 ${out.raw.p99.toFixed(1)} ms)`);
  });
  // The server in a process of its own, measuring its CPU per message for both loops.
  const req = tsx('packages/server/bench/request.ts', [plan.requestSeconds, 1], 120_000).join('\n');
  const m = /plain echo (\d+) msgs\/s; req\/ack (\d+) msgs\/s; server CPU per message: echo ([\d.]+) µs, req\/ack ([\d.]+) µs/.exec(req);
  if (!m) throw new Error(`packages/server/bench/request.ts: unexpected output\n${req}`);
  figures['messaging.request.reqAckPerSec'] = Number(m[2]);
  figures['messaging.request.echoPerSec'] = Number(m[1]);
  figures['messaging.request.reqServerCpuUs'] = Number(m[4]);
  figures['messaging.request.echoServerCpuUs'] = Number(m[3]);
  log(`request/ack ${m[2]} msgs/s (server ${m[4]} µs/msg), plain echo ${m[1]} msgs/s (server ${m[3]} µs/msg)`);
  const rec = JSON.parse(tsx('test/bench/messaging/recovery.ts', [plan.recoveryClients, 20], 300_000, {}).at(-1)!);
  raw.recovery = rec;
  figures['messaging.recovery.seconds'] = rec.allCaughtUpMs / 1000;
  figures['messaging.recovery.replayed'] = rec.replayed;
  figures['messaging.recovery.lostOrTwice'] = rec.lost + rec.twice + rec.resyncs;
  log(`recovery of ${rec.clients} clients: all back and caught up in ${(rec.allCaughtUpMs / 1000).toFixed(1)} s, ${rec.replayed} publications replayed, ${rec.lost} lost, ${rec.twice} twice`);
  return { figures, raw };
}

// The `cluster` mode of `pnpm bench` (issue 15: several processes, one Redis): cross-node
// fan-out through Redis against one node, recovery after a node is SIGKILLed, and memory per
// connection with users and channels in use against the idle raw ws baseline. Each part's
// baseline is measured in the same run; every figure lands in the run record under `cluster.*`
// (and `idle.https-ws.*` when this mode measured the raw baseline itself).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runIdle } from '../lib/loadgen';
import type { Plan } from '../lib/plan';
import type { RunRecord } from '../lib/report';
import { startTarget, type TargetContext } from '../lib/targets';
import { tsx } from '../messaging/mode';

export interface ClusterBenchOptions {
  plan: Plan;
  ctx: TargetContext;
  rec: RunRecord;
  loadCore: string | null;
  log: (s: string) => void;
}

/** Channels in the memory bench: each connection holds `$user` and this many of `MEMORY_ROOMS` shared rooms. */
export const MEMORY_ROOMS_PER_CONN = 2;
const MEMORY_ROOMS = 100;
const KIB_PER_GIB = 1024 * 1024;

export async function runClusterBench({ plan, ctx, rec, loadCore, log }: ClusterBenchOptions): Promise<void> {
  const f = rec.figures;
  const errors: string[] = [];
  const part = async (what: string, body: () => Promise<void> | void) => {
    try {
      await body();
    } catch (e) {
      errors.push(`${what}: ${(e as Error)?.message ?? e}`);
    }
  };

  await part('fan-out', () => {
    const n = plan.clusterFanoutSubscribers;
    const out = JSON.parse(tsx('test/bench/messaging/fanout.ts', [n, plan.fanoutPublications, 1, 'messaging,redis2'], 600_000).at(-1)!);
    rec.raw['cluster.fanout'] = out;
    f['cluster.fanout.redis2.deliveriesPerSec'] = out.redis2.rate;
    f['cluster.fanout.single.deliveriesPerSec'] = out.messaging.rate;
    f['cluster.fanout.redis2.p99Ms'] = out.redis2.p99;
    f['cluster.fanout.single.p99Ms'] = out.messaging.p99;
    log(`fan-out to ${n}: 2 nodes + Redis ${Math.round(out.redis2.rate)} deliveries/s (p99 ${out.redis2.p99.toFixed(1)} ms), one node ${Math.round(out.messaging.rate)} (p99 ${out.messaging.p99.toFixed(1)} ms)`);
  });

  await part('node kill', () => {
    const r = JSON.parse(tsx('test/bench/cluster/node-kill.ts', [plan.nodeKillClients, 20], 300_000).at(-1)!);
    rec.raw['cluster.nodeKill'] = r;
    f['cluster.nodeKill.seconds'] = r.allCaughtUpMs / 1000;
    f['cluster.nodeKill.replayed'] = r.replayed;
    f['cluster.nodeKill.moved'] = r.moved;
    f['cluster.nodeKill.lostOrTwice'] = r.lost + r.twice + r.resyncs;
    log(`node kill: ${r.moved} of ${r.clients} clients moved, all back and caught up in ${(r.allCaughtUpMs / 1000).toFixed(1)} s, ${r.replayed} publications replayed, ${r.lost} lost, ${r.twice} twice, ${r.resyncs} resynced`);
  });

  await part('memory', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-bench-jwt-'));
    const secret = `bench-secret-${process.pid}-${Date.now()}-0123456789abcdef`;
    writeFileSync(path.join(dir, 'jwt'), secret, { mode: 0o600 });
    try {
      const idle = (t: 'native' | 'https-ws', extra: string[], messaging?: { secret: string; rooms: number; roomsPerConn: number }) => async () => {
        const target = await startTarget(t, { ...ctx, extraNativeFlags: extra });
        try {
          return await runIdle(target, { mode: 'idle', conns: 0, idleSteps: plan.idleSteps, openConcurrency: 50, localAddresses: plan.localAddresses, messaging }, ctx.certs.ca, loadCore, plan.idleSettleMs);
        } finally {
          await target.stop();
        }
      };
      const users = await idle('native', ['--messaging', '--jwt-secret-file', path.join(dir, 'jwt')], { secret, rooms: MEMORY_ROOMS, roomsPerConn: MEMORY_ROOMS_PER_CONN })();
      rec.raw['cluster.memory'] = users;
      // The raw ws baseline of the idle mode, same run; measured here if that mode did not run.
      if (plan.idleSteps.some((_, i) => f[`idle.https-ws.rssPerConnKiB@${i}`] == null)) {
        const base = await idle('https-ws', [])();
        rec.raw['idle.https-ws'] = base;
        base.steps.forEach((s, i) => {
          f[`idle.https-ws.rssPerConnKiB@${i}`] = s.rssPerConn / 1024;
          f[`idle.https-ws.conns@${i}`] = s.conns;
        });
      }
      users.steps.forEach((s, i) => {
        const kib = s.rssPerConn / 1024;
        f[`cluster.memory.users.rssPerConnKiB@${i}`] = kib;
        f[`cluster.memory.users.connsPerGiB@${i}`] = KIB_PER_GIB / kib;
        f[`cluster.memory.https-ws.connsPerGiB@${i}`] = KIB_PER_GIB / f[`idle.https-ws.rssPerConnKiB@${i}`]!;
        if (f[`idle.native.rssPerConnKiB@${i}`] != null) f[`cluster.memory.native.connsPerGiB@${i}`] = KIB_PER_GIB / f[`idle.native.rssPerConnKiB@${i}`]!;
      });
      log(`memory: ${users.steps.map((s, i) => `${s.conns} users × ${1 + MEMORY_ROOMS_PER_CONN} channels: ${(s.rssPerConn / 1024).toFixed(1)} KiB/conn (${Math.round(KIB_PER_GIB / (s.rssPerConn / 1024))} conns/GiB; raw ws idle ${f[`idle.https-ws.rssPerConnKiB@${i}`]!.toFixed(1)} KiB/conn), ${s.errors} errors`).join('; ')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  if (errors.length) throw new Error(errors.join('\n'));
}

// Client side, orchestrator half: msgs/s and memory per instance through wss-mp-client's
// miniprogram_dist vs the same wx shim used raw. The server is the raw https+ws echo on the
// server core (the same for both variants), the clients run in one process on the load core.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWindow, type Script } from '../lib/loadgen';
import type { Plan } from '../lib/plan';
import { startTarget, type TargetContext } from '../lib/targets';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const CLIENT_PROC: Script = { nodeArgs: ['--import', 'tsx', '--expose-gc'], path: path.join(HERE, 'client-proc.ts') };

export interface ClientBenchArgs {
  plan: Plan;
  ctx: TargetContext;
  loadCore: string | null;
  log: (s: string) => void;
  run?: number;
}

export async function runClientBench(a: ClientBenchArgs): Promise<{ figures: Record<string, number | null>; raw: Record<string, unknown> }> {
  const figures: Record<string, number | null> = {};
  const raw: Record<string, unknown> = {};
  const target = await startTarget('https-ws', { ...a.ctx, profileDir: null });
  try {
    // Alternate which variant goes first from run to run.
    const order = (a.run ?? 1) % 2 ? (['raw', 'sdk'] as const) : (['sdk', 'raw'] as const);
    for (const variant of order) {
      const r = await runWindow(
        target,
        { mode: 'msgs', variant, conns: a.plan.clientConns, warmupMs: a.plan.warmupMs, durationMs: a.plan.durationMs },
        a.ctx.certs.ca,
        a.loadCore,
        CLIENT_PROC,
      );
      figures[`client.${variant}.msgsPerSec`] = r.msgsPerSec as number;
      raw[`msgs.${variant}`] = r;
      a.log(`msgs ${variant.padEnd(4)} ${Math.round(r.msgsPerSec as number)} msgs/s over ${r.conns} clients (shim ${r.shim})`);
    }
    for (const variant of order) {
      const r = await runWindow(
        target,
        { mode: 'memory', variant, conns: a.plan.clientMemoryInstances, deadlineMs: 120_000 },
        a.ctx.certs.ca,
        a.loadCore,
        CLIENT_PROC,
      );
      figures[`client.${variant}.kibPerInstance`] = r.kibPerInstance as number;
      figures[`client.${variant}.heapKibPerInstance`] = r.heapKibPerInstance as number;
      raw[`memory.${variant}`] = r;
      a.log(`memory ${variant.padEnd(4)} ${(r.kibPerInstance as number).toFixed(1)} KiB RSS, ${(r.heapKibPerInstance as number).toFixed(1)} KiB heap per connected instance (${r.instances})`);
    }
  } finally {
    await target.stop();
  }
  return { figures, raw };
}

// What a run measures and how big it is: the full default (what `pnpm bench` does, < 10 min on
// 2 cores) and --quick (a few seconds per mode, for smoke tests). Change sizes here only.

export const SERVER_MODES = ['pingpong', 'throughput', 'handshake'] as const;
export const MODES = ['pingpong', 'throughput', 'burst', 'handshake', 'idle', 'client', 'storm', 'detect', 'messaging', 'request', 'flood', 'cluster'] as const;
export type Mode = (typeof MODES)[number];

export interface Plan {
  runs: number;
  warmupMs: number;
  durationMs: number;
  pingpongConns: number;
  throughputConns: number;
  throughputWindow: number;
  handshakeConcurrency: number;
  idleSteps: number[];
  /** Wait after each idle step before reading the server's RSS. */
  idleSettleMs: number;
  idleTargets: string[];
  /** Source addresses 127.0.0.x used round-robin by load generators (per-IP caps, ports). */
  localAddresses: string[];
  clientConns: number;
  clientMemoryInstances: number;
  stormClients: number;
  stormOutageMs: number;
  stormMessages: number;
  /** Storm runs for wss-mp-client (each takes outage + recovery, the longest part of the suite). */
  stormRuns: number;
  /** Storm runs for reconnecting-websocket (a comparison, not a target: one run by default). */
  stormRunsRws: number;
  /** messaging: fan-out subscriber counts, publications per fan-out, recovery clients (request/ack: the pingpong shape and window). */
  fanoutSubscribers: number[];
  fanoutPublications: number;
  recoveryClients: number;
  /** flood: well-behaved clients measured, flooding clients, and the length of each of its two windows. */
  floodSteadyClients: number;
  flooders: number;
  floodWindowMs: number;
  /** cluster: subscribers of the cross-node fan-out (split over two nodes + Redis, and all on one node). */
  clusterFanoutSubscribers: number;
  /** cluster: messaging clients over two nodes + Redis when one node is SIGKILLed. */
  nodeKillClients: number;
  /** cluster: runs that do the cluster mode (~1.5 min each at full size; ratios are within a run). */
  clusterRuns: number;
}

const addrs = (n: number) => Array.from({ length: n }, (_, i) => `127.0.0.${i + 11}`);

export function makePlan(opts: { quick: boolean; runs?: number; durationS?: number }): Plan {
  const quick = opts.quick;
  const runs = opts.runs ?? (quick ? 1 : 3);
  const durationMs = opts.durationS != null ? opts.durationS * 1000 : quick ? 1000 : 3000;
  return {
    runs,
    warmupMs: quick ? 100 : 500,
    durationMs,
    pingpongConns: quick ? 8 : 64,
    throughputConns: quick ? 2 : 8,
    throughputWindow: 16,
    handshakeConcurrency: quick ? 4 : 16,
    idleSteps: quick ? [100, 200] : [5000, 10000],
    idleSettleMs: quick ? 300 : 1500,
    idleTargets: ['native', 'https-ws'],
    localAddresses: addrs(quick ? 4 : 40),
    clientConns: quick ? 8 : 64,
    clientMemoryInstances: quick ? 40 : 1000,
    stormClients: quick ? 50 : 2000,
    stormOutageMs: quick ? 500 : 10_000,
    stormMessages: 3,
    stormRuns: quick ? 1 : runs,
    stormRunsRws: 1,
    fanoutSubscribers: quick ? [100] : [1000, 10_000],
    fanoutPublications: quick ? 20 : 50,
    recoveryClients: quick ? 50 : 2000,
    floodSteadyClients: quick ? 8 : 64,
    flooders: quick ? 1 : 2,
    // Twice the usual window: a p99 needs samples, and these clients are paced (20 requests/s each).
    floodWindowMs: 2 * durationMs,
    clusterFanoutSubscribers: quick ? 200 : 10_000,
    nodeKillClients: quick ? 50 : 2000,
    clusterRuns: 1,
  };
}

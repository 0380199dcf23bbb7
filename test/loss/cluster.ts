// The loss matrix against a cluster: two wss-mp-server processes (node A, node B: fixture.ts
// with `redis`) sharing one real redis-server, the app reaching them through a load balancer
// (balancer.ts). Publications go out alternately through A and B (cross-node fan-out through
// Redis pub/sub); requests are handled by whichever node the app is connected to. Ten
// disruptions: the single-node seven where they apply to one node of the cluster, plus a node
// killed for good, Redis restarted and Redis frozen. Redis keeps its data throughout, so the
// checker accepts no `resync` at all (historyKept).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { startBalancer, type Balancer } from './balancer';
import { check, parseJournal, type AppEvent } from './checker';
import type { FixtureConfig } from './fixture';
import { journalDir, memoryStorage, readJournal, startApp, startFixture, type App, type ServerProc } from './harness';
import {
  bitErrors, closeText, coldRestart, disruptAt, endRun, firstPosition, Gate, networkOff, pacing, pause, requestStream, slowConsumer, suspendApp,
  untilCaughtUp, type Result,
} from './scenarios';
import { CLIENT_MP } from '../comparison/subjects';
import { loadMiniprogramMessaging } from '../support/miniprogram-module';
import { startRedis, type RunningRedis } from '../support/redis';

/** One node of the cluster: its process while it runs, and whether publications may go to it. */
export interface Node {
  name: 'A' | 'B';
  proc: Gate<ServerProc>;
  /** False while the scenario is about to disrupt it (or has): the publisher uses the other node. */
  open: boolean;
  /** The publication in flight through this node, if any. */
  inflight: Promise<unknown> | undefined;
}

export interface ClusterCtx {
  nodes: [Node, Node];
  redis: RunningRedis;
  balancer: Balancer;
  app: Gate<App>;
  /** Padding of the publications made now, in bytes. */
  pad: number;
  /** The node the app's latest connection went to (through the balancer). */
  appNode(): Node;
  /** Takes `node` out of the publisher's rotation, once its publication in flight is done. */
  hold(node: Node): Promise<void>;
  /** Signals `node` and waits for it to exit; `restart`: a new process on the same port. */
  stopNode(node: Node, sig: NodeJS.Signals, restart: boolean): Promise<void>;
  freezeApp(): App;
  newApp(): void;
  resumeApp(app: App): void;
}

export interface ClusterScenario {
  id: string;
  name: string;
  /** ms over which the 1,000 publications and 1,000 requests are spread. */
  duration: number;
  /** ms after the start when the disruption begins. */
  at: number;
  /** A node died or froze without draining: a request it ran may not have been answered, and the
   * other node (whose deduplication memory is its own) runs the resend again. The application's
   * unique key absorbs it; a drain must never cause it. */
  crash?: boolean;
  /** The scenario stops or restarts Redis: it gets a Redis of its own, with appendonly. */
  ownRedis?: boolean;
  fixture?: Partial<FixtureConfig>;
  /** Proof that the disruption did bite: a close code the app saw, publications refused, or a
   * node that logged losing its Redis connection. */
  bites: number[] | 'refused' | 'redis-lost' | null;
  disrupt(ctx: ClusterCtx): Promise<void>;
}

const NODE_STOP = 30_000;
const REDIS_STOP = 10_000;

export const CLUSTER_SCENARIOS: ClusterScenario[] = [
  {
    id: 'kill', name: 'Node SIGKILL + restart (the app\'s node)', duration: 10_000, at: 3_000, crash: true, bites: [1006],
    disrupt: async (ctx) => ctx.stopNode(ctx.appNode(), 'SIGKILL', true),
  },
  {
    id: 'kill-for-good', name: 'Node SIGKILL, not restarted: clients move to the other node', duration: 10_000, at: 3_000, crash: true, bites: [1006],
    disrupt: async (ctx) => ctx.stopNode(ctx.appNode(), 'SIGKILL', false),
  },
  {
    id: 'term', name: 'Node SIGTERM (drain) + restart', duration: 10_000, at: 3_000, bites: [1001],
    disrupt: async (ctx) => ctx.stopNode(ctx.appNode(), 'SIGTERM', true),
  },
  {
    // The balancer's probe takes the frozen node out; the app's heartbeat (3 s + 3 s) declares
    // its link dead and the reconnect lands on the other node. Thawed, the node reads what was
    // waiting in its sockets: a request the app sent just before may run there a second time.
    id: 'stop', name: 'Node frozen (SIGSTOP) 30 s', duration: 36_000, at: 3_000, crash: true, bites: [4500],
    async disrupt(ctx) {
      const n = ctx.appNode();
      await ctx.hold(n);
      const s = await n.proc.get();
      s.signal('SIGSTOP');
      await pause(NODE_STOP);
      s.signal('SIGCONT');
      n.open = true;
    },
  },
  {
    // 50 s rather than the single-node matrix's 60: twenty node processes start first on two
    // cores, and this scenario sets the file's wall time (what it proves is the same).
    id: 'suspend', name: 'App suspended 50 s (closed 1000 "interrupted"), then shown', duration: 56_000, at: 3_000, bites: [1000],
    disrupt: (ctx) => suspendApp(ctx, 50_000),
  },
  {
    id: 'network', name: 'Network off 10 s, then on', duration: 18_000, at: 3_000, bites: [4500, 4502, 4504],
    disrupt: (ctx) => networkOff(ctx, ctx.balancer, 10_000),
  },
  {
    id: 'cold', name: 'App cold restart (storage kept)', duration: 10_000, at: 3_000, bites: null,
    disrupt: (ctx) => coldRestart(ctx),
  },
  {
    id: 'slow', name: 'Slow consumer cut by the server (4008)', duration: 12_000, at: 3_000, bites: [4008],
    fixture: { maxBufferedAmount: 256 * 1024 },
    disrupt: async (ctx) => slowConsumer(ctx, await ctx.appNode().proc.get()),
  },
  {
    // SIGTERM: Redis writes its append-only file and exits; the same port and directory again.
    id: 'redis-restart', name: 'Redis restarted (SIGTERM, appendonly), same port', duration: 10_000, at: 3_000, ownRedis: true, bites: 'redis-lost',
    disrupt: (ctx) => ctx.redis.restart('SIGTERM'),
  },
  {
    // Frozen: its sockets stay open and commands go unanswered (the nodes' command timeout).
    id: 'redis-stop', name: 'Redis frozen (SIGSTOP) 10 s', duration: 16_000, at: 3_000, ownRedis: true, bites: 'refused',
    async disrupt(ctx) {
      ctx.redis.pause();
      await pause(REDIS_STOP);
      ctx.redis.resume();
    },
  },
];

export interface ClusterRunOptions {
  certDir: string;
  ca: string;
  jwtSecret: string;
  token: string;
  /** redis-server binary (scenarios with their own Redis start one). */
  redisBin: string;
  /** The Redis the other scenarios share, each under its own key prefix. */
  shared: RunningRedis;
  count?: number;
  settle?: number;
}

export interface ClusterResult extends Result {
  /** Publish attempts that failed (ERR_UNAVAILABLE, or the node's process died) and were made again. */
  refused: number;
  /** Connections the balancer relayed to node A and to node B. */
  relayed: [number, number];
}

export async function runClusterScenario(sc: ClusterScenario, o: ClusterRunOptions): Promise<ClusterResult> {
  const t0 = Date.now();
  const n = o.count ?? 1000;
  const dir = journalDir();
  const redis = sc.ownRedis ? await startRedis(o.redisBin, { appendonly: true }) : o.shared;
  const cfg = (): FixtureConfig => ({
    port: 0, dir, certDir: o.certDir, jwtSecret: o.jwtSecret, redis: redis.url, prefix: `loss-${sc.id}:`, admin: true, ...sc.fixture,
  });
  const configs = [cfg(), cfg()];
  const procs: ServerProc[] = [];
  const nodes: [Node, Node] = [
    { name: 'A', proc: new Gate(), open: true, inflight: undefined },
    { name: 'B', proc: new Gate(), open: true, inflight: undefined },
  ];
  const events: AppEvent[] = [];
  const answers: number[] = [];
  const storage = memoryStorage();
  const apps: App[] = [];
  const errors: string[] = [];
  let refused = 0;
  let reconnects = 0;
  const closes = new Map<number, number>();
  const start = async (i: number) => {
    // A minute: twenty nodes start at once, on two cores shared with the rest of the suite.
    const p = await startFixture(configs[i]!, 60_000);
    configs[i]!.port = p.port;
    procs.push(p);
    nodes[i]!.proc.set(p);
  };
  let balancer: Balancer | undefined;
  // When each phase ended (s since the start), for LOSS_DEBUG: where a slow scenario spent its time.
  const phases: string[] = [];
  const mark = (what: string) => phases.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)}`);
  try {
    await Promise.all([start(0), start(1)]);
    mark('nodes up');
    balancer = await startBalancer(() => nodes.map((x) => x.proc.now));
    const first = nodes[0].proc.now!;
    const url = first.url.replace(`:${first.port}`, `:${balancer.port}`);
    const dist = path.dirname(CLIENT_MP);
    const ctx: ClusterCtx = {
      nodes,
      redis,
      balancer,
      app: new Gate(),
      pad: 0,
      appNode: () => nodes[balancer!.current]!,
      async hold(node) {
        node.open = false;
        await node.inflight?.catch(() => {});
      },
      async stopNode(node, sig, restart) {
        await ctx.hold(node);
        const s = await node.proc.get();
        node.proc.clear();
        s.signal(sig);
        await s.exited;
        if (!restart) return;
        await start(nodes.indexOf(node));
        node.open = true;
      },
      freezeApp() {
        const app = ctx.app.now!;
        ctx.app.clear();
        return app;
      },
      newApp() {
        const create = loadMiniprogramMessaging(dist).messaging.exports.createMessagingClient;
        const app = startApp({ create, url, ca: o.ca, storage, events, answers, clientOptions: { token: o.token } });
        apps.push(app);
        ctx.app.set(app);
      },
      resumeApp: (app) => ctx.app.set(app),
    };
    ctx.newApp();
    await firstPosition(ctx.app.now!, events);
    mark('subscribed');
    let last: { offset: number; epoch: string } | undefined;
    const due = pacing(sc.duration, n);
    const publications = (async () => {
      for (let i = 1; i <= n; i++) {
        await due(i);
        // Alternately through A and B; through the other one while a node is out; retried (on
        // the next node) when refused, as an application's publisher would.
        for (let k = i; ; k++) {
          const node = [nodes[k % 2]!, nodes[(k + 1) % 2]!].find((x) => x.open && x.proc.now);
          if (node === undefined) {
            await pause(20);
            continue;
          }
          const p = node.proc.now!.publish(i, ctx.pad || undefined);
          node.inflight = p;
          try {
            last = await p;
            break;
          } catch (e) {
            refused++;
            if (process.env.LOSS_DEBUG) console.log(sc.id, 'refused', i, node.name, String(e));
            await pause(50);
          } finally {
            if (node.inflight === p) node.inflight = undefined;
          }
        }
      }
    })();
    const requests = requestStream(ctx.app, n, due, answers);
    const disruption = disruptAt(sc, ctx);
    await Promise.all([publications.then(() => mark('published')), requests.then(() => mark('requested')), disruption.then(() => mark('disrupted'))]);
    if (await untilCaughtUp(() => ctx.app.now!, answers, n, last, o.settle ?? 60_000, errors)) mark('caught up');
  } catch (e) {
    errors.push(String(e));
  } finally {
    reconnects = endRun(apps, procs, closes, errors);
    balancer?.close();
  }
  await Promise.all(procs.map((p) => p.exited));
  if (process.env.LOSS_DEBUG) console.log(sc.id, phases.join(', '));
  if (sc.ownRedis) await redis.stop();
  const verdict = check(parseJournal(...readJournal(dir)), {
    events, answers, requests: n, restarts: false, historyKept: true, crash: sc.crash === true,
  });
  if (process.env.LOSS_DEBUG && verdict.problems.length) console.log(sc.id, verdict.problems.join('\n'));
  rmSync(dir, { recursive: true, force: true });
  errors.push(...bitErrors(sc, closes, apps));
  if (sc.bites === 'refused' && refused === 0) errors.push('the disruption did not bite: no publication was refused');
  if (sc.bites === 'redis-lost' && !procs.some((p) => p.logs.some((l) => l.event === 'redis' && /connection lost/.test(String(l.msg))))) {
    errors.push('the disruption did not bite: no node lost its Redis connection');
  }
  const relayed: [number, number] = [balancer?.relayed[0] ?? 0, balancer?.relayed[1] ?? 0];
  if ((sc.id === 'kill-for-good' || sc.id === 'stop') && Math.min(...relayed) === 0) errors.push(`the app never moved to the other node (relayed ${relayed.join('/')})`);
  return { scenario: { id: sc.id, name: sc.name, restarts: false }, verdict, ms: Date.now() - t0, reconnects, closes: closeText(closes), errors, refused, relayed };
}

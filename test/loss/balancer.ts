// The load balancer in front of the two nodes of the cluster matrix: a TCP relay (TLS passes
// through to the node, as with nginx's `stream` module or an L4 balancer) that
//  - probes every node's /readyz (its admin listener) like an active health check: a node that
//    refuses, answers non-200 (draining, Redis unreachable) or does not answer in time is out;
//  - is sticky (like nginx `hash $remote_addr`, all our clients share 127.0.0.1): a connection
//    goes to the node the previous one went to while that node is in, else to a node that is in;
//    when none is in it tries them all, as nginx does when every upstream failed;
//  - falls through to the next node when a connect is refused (a killed node, before the probe
//    noticed);
//  - is also the phone's network: `off()` drops every byte both ways and resets new connections
//    (nothing tells either end), `on()` resets the dead connections and relays again.
import net from 'node:net';
import { resetAll, splice } from './harness';

export interface Backend {
  port: number;
  /** Admin URL of the node (its /readyz is probed). */
  admin: string | undefined;
}

export interface Balancer {
  port: number;
  /** Index of the node the latest connection went to. */
  readonly current: number;
  /** Connections relayed to each node. */
  readonly relayed: number[];
  off(): void;
  on(): void;
  close(): void;
}

/** ms between probes, and how long a probe may take before the node counts as out. */
const PROBE_EVERY = 300;
const PROBE_TIMEOUT = 1500;

/** `nodes()` is read on every probe and connect: undefined while a node is not running. */
export async function startBalancer(nodes: () => (Backend | undefined)[]): Promise<Balancer> {
  let up = true;
  let current = 0;
  let closed = false;
  const count = nodes().length;
  const healthy: boolean[] = new Array(count).fill(true);
  const relayed: number[] = new Array(count).fill(0);
  const pairs = new Set<[net.Socket, net.Socket]>();

  const probe = async (i: number) => {
    const b = nodes()[i];
    if (!b?.admin) return void (healthy[i] = false);
    try {
      const r = await fetch(`${b.admin}/readyz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT) });
      await r.arrayBuffer();
      healthy[i] = r.status === 200;
    } catch {
      healthy[i] = false;
    }
  };
  // One probe per node in flight at most: a frozen node's probe waits out its timeout.
  const probing = new Array(count).fill(false);
  const timer = setInterval(() => {
    for (let i = 0; i < count; i++) {
      if (probing[i]) continue;
      probing[i] = true;
      void probe(i).finally(() => (probing[i] = false));
    }
  }, PROBE_EVERY);

  /** Nodes to try, in order: the sticky one if in, the others that are in, then the rest. */
  const order = (): number[] => {
    const all = Array.from({ length: count }, (_, k) => (current + k) % count);
    return [...all.filter((i) => healthy[i]), ...all.filter((i) => !healthy[i])];
  };

  const server = net.createServer((down) => {
    if (!up) return void down.resetAndDestroy();
    down.pause();
    down.on('error', () => {});
    const tries = order();
    const attempt = () => {
      const i = tries.shift();
      const b = i === undefined ? undefined : nodes()[i];
      if (i === undefined) return void down.resetAndDestroy();
      if (b === undefined) return attempt();
      const upstream = net.connect(b.port, '127.0.0.1');
      upstream.once('error', attempt);
      upstream.once('connect', () => {
        upstream.off('error', attempt);
        if (!up || down.destroyed) return void upstream.destroy();
        current = i;
        relayed[i]!++;
        splice(down, upstream, pairs, () => up);
        down.resume();
      });
    };
    attempt();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    get current() {
      return current;
    },
    relayed,
    off: () => void (up = false),
    on() {
      resetAll(pairs);
      up = true;
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      for (const [a, b] of pairs) (a.destroy(), b.destroy());
      server.close();
    },
  };
}

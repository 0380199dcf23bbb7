// Ports for tests, without races. A server we own binds port 0 and reads back the port the
// kernel gave it, so no other process can take the port between choosing and binding. A port
// that must refuse connections is held bound (by a connected client socket) but never listened
// on. Only programs that must be told a port in their config (nginx refuses `listen …:0`; Apache
// and Caddy cannot report what they got) are offered a port that was free a moment ago, and are
// started again on another one when something else bound it first.
import net from 'node:net';

/** Binds `server` to port 0 on `host` and resolves with the port it got. */
export function listenOnFreePort(server: net.Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(0, host, () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/**
 * A port the kernel had free a moment ago. Only inside startOnFreePort (which retries when
 * someone else bound it first), or for a config that is validated and never served.
 */
export async function recentlyFreePort(host = '127.0.0.1'): Promise<number> {
  const probe = net.createServer();
  const port = await listenOnFreePort(probe, host);
  await new Promise((r) => probe.close(r));
  return port;
}

const BIND_CONFLICT = /EADDRINUSE|address already in use|could not bind|make_sock: could not bind/i;

/**
 * Starts a program on a port it must be told: `start(port)` with a recently free port, and again
 * with a new one (up to `attempts` times) if it fails because another process bound it first.
 * `ports` > 1 hands several distinct ports (e.g. Caddy's listener and its admin endpoint).
 */
export async function startOnFreePort<T>(
  start: (port: number, ...more: number[]) => Promise<T>,
  { attempts = 3, host = '127.0.0.1', ports = 1 }: { attempts?: number; host?: string; ports?: number } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const picked: number[] = [];
    while (picked.length < ports) {
      const p = await recentlyFreePort(host);
      if (!picked.includes(p)) picked.push(p);
    }
    try {
      return await start(picked[0]!, ...picked.slice(1));
    } catch (err) {
      if (attempt < attempts && BIND_CONFLICT.test(String((err as Error)?.stack ?? err))) continue;
      throw err;
    }
  }
}

export interface RefusingPort {
  /** Connections to 127.0.0.1:port are refused (ECONNREFUSED) until release(). */
  port: number;
  release(): Promise<void>;
}

/**
 * A loopback port that refuses connections and that no other process can bind meanwhile: the
 * local end of a connected TCP socket is bound but not listening, so a connect to it gets a reset.
 */
export async function refusingPort(): Promise<RefusingPort> {
  const peers = new Set<net.Socket>();
  const anchor = net.createServer((s) => peers.add(s.on('error', () => {})));
  const anchorPort = await listenOnFreePort(anchor);
  const holder = net.connect(anchorPort, '127.0.0.1');
  holder.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    holder.once('connect', resolve);
    holder.once('error', reject);
  });
  return {
    port: holder.localPort!,
    release: async () => {
      holder.destroy();
      for (const s of peers) s.destroy();
      await new Promise((r) => anchor.close(r));
    },
  };
}

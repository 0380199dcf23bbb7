// The checklist of docs/client-scenarios.md as end-to-end scenarios: real sockets (wss-mp-server
// over TLS with its dev CA, or in-process `ws` servers), the client loaded the way WeChat loads it,
// the wx shim in between. Each scenario runs against any Subject and reports pass/fail with what
// it observed; test/client-scenarios.e2e.test.ts runs them for wss-mp-client (all must pass) and
// for reconnecting-websocket (the comparison table in packages/client/README.md).
//
// Timings are scaled from seconds to milliseconds; behaviour, not duration, is what counts.
// Notes must be stable between runs (no raw timings or counts that vary): the README table is
// compared with a fresh run.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { createServer } from 'wss-mp-server';
import { startServer, type RunningServer } from '../support/server';
import { listenOnFreePort } from '../support/ports';
import { holdsFor, until } from '../support/wait';
import { createWxShim, type WxShim } from '../support/wx-shim';
import { FAST, type Handle, type Subject, type Timing, type Url } from './subjects';

export interface Outcome {
  ok: boolean;
  note: string;
}

export interface Scenario {
  id: string;
  title: string;
  run(subject: Subject, env: Env): Promise<Outcome>;
}

/** Shared per test run: the dev CA directory of wss-mp-server. */
export interface Env {
  devCertDir: string;
}

export function createEnv(): Env & { cleanup(): void } {
  const devCertDir = mkdtempSync(path.join(tmpdir(), 'wss-mp-client-e2e-'));
  return { devCertDir, cleanup: () => rmSync(devCertDir, { recursive: true, force: true }) };
}

const pass = (note = ''): Outcome => ({ ok: true, note });
const fail = (note: string): Outcome => ({ ok: false, note });

export { until };

const errText = (e: unknown) => String(e instanceof Error ? `${e.name}: ${e.message}` : e);

// ---------------------------------------------------------------- servers

export interface EchoServer {
  url: string;
  port: number;
  /** Upgrades accepted so far. */
  connections: number;
  sockets: Set<WebSocket>;
  /** Starts answering upgrades (a server started `down` drops every connection until then). */
  up(): void;
  close(): Promise<void>;
}

/**
 * A plain `ws` echo server that knows nothing about heartbeats ("a server that is not ours"), on
 * a port of its own from the start. Started `down`, it drops each connection before the upgrade
 * (the client sees a failed connect, as with a refused one) until up(): a server that comes up
 * later on the same port, with no moment in which another process could take that port.
 */
export async function startEcho(onConnection?: (ws: WebSocket) => void, { down = false } = {}): Promise<EchoServer> {
  const wss = new WebSocketServer({ noServer: true });
  const server = http.createServer((_req, res) => res.writeHead(426).end());
  const state = { down };
  server.on('upgrade', (req, socket, head) => {
    if (state.down) return void socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  const port = await listenOnFreePort(server);
  const s: EchoServer = {
    url: `ws://127.0.0.1:${port}/`,
    port,
    connections: 0,
    sockets: new Set(),
    up: () => {
      state.down = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const ws of s.sockets) ws.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  wss.on('connection', (ws) => {
    s.connections++;
    s.sockets.add(ws);
    ws.on('close', () => s.sockets.delete(ws));
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    onConnection?.(ws);
  });
  return s;
}

/** Accepts TCP connections and never answers the upgrade: a black-holed connect. */
export async function startBlackHole(): Promise<{ url: string; accepted: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { accepted: 0 };
  const srv = net.createServer((sock) => {
    state.accepted++;
    sockets.add(sock);
    sock.on('error', () => {});
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `ws://127.0.0.1:${(srv.address() as net.AddressInfo).port}/`,
    get accepted() {
      return state.accepted;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** wss-mp-server's library with an onConnect hook refusing everyone with a terminal code. */
export async function startTerminal(code = 4001, reason = 'unauthorized') {
  let connections = 0;
  const server = createServer({
    port: 0,
    host: '127.0.0.1',
    logger: false,
    onConnect(conn) {
      connections++;
      conn.close(code, reason);
    },
  });
  const url = await server.listen();
  return {
    url,
    get connections() {
      return connections;
    },
    close: () => server.close(),
  };
}

/** The real wss-mp-server CLI over TLS with its dev certificate, and a shim trusting its CA. */
export async function startCli(env: Env, port?: number): Promise<RunningServer> {
  const args = ['--dev-cert', '--quiet', '--drain-timeout', '200ms'];
  if (port) args.push('--port', String(port));
  return startServer(args, { env: { WSS_MP_DEV_CERT_DIR: env.devCertDir } });
}

export const shimFor = (env: Env) => createWxShim({ ca: path.join(env.devCertDir, 'ca.pem') });

// ---------------------------------------------------------------- scenarios

/** Runs `body` with a fresh shim and handle; always destroys both. */
async function withHandle(
  s: Subject,
  wx: WxShim,
  url: Url,
  t: Timing,
  body: (h: Handle) => Promise<Outcome>,
  opts?: { noAdapter?: boolean },
): Promise<Outcome> {
  let h: Handle | undefined;
  try {
    h = s.create(wx, url, t, opts);
    return await body(h);
  } catch (e) {
    return fail(`throws ${errText(e)}`);
  } finally {
    try {
      h?.destroy();
    } catch {
      // ignore
    }
    wx.closeAll();
  }
}

/** withHandle on a fresh echo server (`down`: refusing upgrades until `echo.up()`) and wx shim; the echo closed after. */
async function withEcho(
  s: Subject,
  echoOpts: { down?: boolean },
  t: Timing,
  body: (h: Handle, on: { wx: WxShim; echo: EchoServer }) => Promise<Outcome>,
): Promise<Outcome> {
  const echo = await startEcho(undefined, echoOpts);
  const wx = createWxShim();
  try {
    return await withHandle(s, wx, echo.url, t, (h) => body(h, { wx, echo }));
  } finally {
    await echo.close();
  }
}

const FORBIDDEN = ['Event', 'EventTarget', 'Blob', 'process', 'URL', 'TextEncoder', 'window', 'self', 'document', 'WebSocket', 'Buffer', 'global'];

export const SCENARIOS: Scenario[] = [
  {
    id: 'S0',
    title: 'Loads in a WeChat module (no DOM/Node globals, no global writes, no timers or randomness at import)',
    async run(s) {
      return withEcho(s, {}, FAST, async (h) => {
        const m = h.module;
        const problems: string[] = [];
        if (m.randomAtImport) problems.push('Math.random() at import');
        if (m.timersAtImport) problems.push('timer at import');
        if (m.globalWrites().length) problems.push(`writes global ${m.globalWrites().join(', ')}`);
        h.send('x');
        await until(() => h.messages.length === 1, 3000);
        const bad = [...m.reads].filter((n) => FORBIDDEN.includes(n));
        if (bad.length) problems.push(`reads ${bad.join(', ')}`);
        if (h.messages[0] !== 'x') problems.push('no echo');
        return problems.length ? fail(problems.join('; ')) : pass();
      });
    },
  },
  {
    id: 'S1',
    title: 'No WebSocket constructor needed (wx.connectSocket directly)',
    async run(s) {
      const echo = await startEcho();
      const wx = createWxShim();
      try {
        return await withHandle(
          s,
          wx,
          echo.url,
          FAST,
          async (h) => ((await until(() => h.isOpen(), 3000)) ? pass() : fail('never opens')),
          { noAdapter: true },
        );
      } finally {
        await echo.close();
      }
    },
  },
  {
    id: 'S2',
    title: 'Connect, send before open, receive: "tom" → "tom" over TLS (wss-mp-server, dev CA)',
    async run(s, env) {
      const server = await startCli(env);
      const wx = shimFor(env);
      try {
        return await withHandle(s, wx, server.url, FAST, async (h) => {
          try {
            h.send('tom');
          } catch (e) {
            return fail(`send before open throws ${errText(e)}`);
          }
          if (!(await until(() => h.messages.includes('tom'), 5000))) return fail(h.opens ? 'sent before open: lost' : 'never opens');
          return h.opens === 1 ? pass() : fail('open listener not called');
        });
      } finally {
        await server.stop();
      }
    },
  },
  {
    id: 'S3',
    title: 'Server restart (killed, same port): reconnects, sends made while down arrive in order',
    async run(s, env) {
      let server = await startCli(env);
      const port = server.port;
      const wx = shimFor(env);
      try {
        return await withHandle(s, wx, server.url, FAST, async (h) => {
          if (!(await until(() => h.isOpen(), 5000))) return fail('never opens');
          await server.stop('SIGKILL');
          if (!(await until(() => !h.isOpen(), 3000))) return fail('no close seen');
          const close = h.closes.at(-1);
          for (const m of ['a', 'b', 'c']) h.send(m);
          server = await startCli(env, port);
          if (!(await until(() => h.messages.length >= 3, 8000))) return fail(`queued sends not delivered (got ${h.messages.length}/3)`);
          if (h.messages.join() !== 'a,b,c') return fail('out of order');
          if (close?.code !== 1006) return fail(`close code ${String(close?.code)}`);
          return pass();
        });
      } finally {
        await server.stop();
      }
    },
  },
  {
    id: 'S4',
    title: 'Terminal close code 4001 stops the loop',
    async run(s) {
      const srv = await startTerminal();
      const wx = createWxShim();
      try {
        return await withHandle(s, wx, srv.url, FAST, async (h) => {
          await until(() => h.closes.length >= 1, 3000);
          await until(() => srv.connections > 1, 1500);
          if (srv.connections > 1) return fail('retries after 4001');
          const c = h.closes[0];
          return c?.code === 4001 && c.reason === 'unauthorized' ? pass() : fail(`close ${JSON.stringify(c)}`);
        });
      } finally {
        await srv.close();
      }
    },
  },
  {
    id: 'S5',
    title: 'Black-holed connect: timeout closes the task, retries, never two live tasks',
    async run(s) {
      const hole = await startBlackHole();
      const wx = createWxShim();
      try {
        return await withHandle(s, wx, hole.url, { ...FAST, connectTimeout: 300 }, async () => {
          const retried = await until(() => hole.accepted >= 3, 5000);
          if (!retried) return fail('no retry after the connect timeout');
          if (wx.maxLive > 1) return fail('two live tasks at once');
          if (wx.failed.length) return fail(wx.failed[0]!);
          return pass();
        });
      } finally {
        await hole.close();
      }
    },
  },
  {
    id: 'S6',
    title: 'Binary queued while down (and the queue size read): exact-length ArrayBuffer, no Blob',
    async run(s) {
      return withEcho(s, { down: true }, FAST, async (h, { echo }) => {
        const pool = new Uint8Array(32).fill(9);
        h.send(pool.subarray(4, 8).fill(1));
        try {
          if (!(h.buffered() > 0)) return fail('queue size not reported');
        } catch (e) {
          return fail(`reading the queue size throws ${errText(e)}`);
        }
        echo.up();
        if (!(await until(() => h.messages.length === 1, 5000))) return fail('queued binary not delivered');
        const got = h.messages[0];
        if (Object.prototype.toString.call(got) !== '[object ArrayBuffer]') return fail('not an ArrayBuffer');
        const bytes = [...new Uint8Array(got as ArrayBuffer)];
        return bytes.join() === '1,1,1,1' ? pass() : fail(`sent ${bytes.length} bytes, not the 4 of the view`);
      });
    },
  },
  {
    id: 'S7',
    title: 'Endpoint provider rejects once: one failed attempt, then recovers',
    async run(s) {
      const echo = await startEcho();
      const wx = createWxShim();
      let calls = 0;
      const tag = new Error(`token service down ${Math.random()}`);
      const unhandled = trackUnhandled(tag);
      const url = async () => {
        calls++;
        if (calls === 1) throw tag;
        return echo.url;
      };
      try {
        return await withHandle(s, wx, url, FAST, async (h) => {
          if (await until(() => h.isOpen(), 4000)) return pass();
          return fail(`dead after the rejection${unhandled.seen ? ' (unhandled rejection)' : ''}`);
        });
      } finally {
        unhandled.stop();
        await echo.close();
      }
    },
  },
  {
    id: 'S7b',
    title: 'connectSocket throws synchronously once (malformed URL): one failed attempt, then recovers',
    async run(s) {
      const echo = await startEcho();
      const wx = createWxShim();
      let calls = 0;
      const rejections: unknown[] = [];
      const onRejection = (r: unknown) => rejections.push(r);
      process.on('unhandledRejection', onRejection);
      // The shim builds a `ws` client inside connectSocket, which throws on a malformed URL, as
      // some platforms do. A long connect timeout: recovering must not wait for it.
      const url = () => (++calls === 1 ? 'wss://bad host:1/' : echo.url);
      try {
        return await withHandle(s, wx, url, { ...FAST, connectTimeout: 20_000 }, async (h) => {
          const opened = await until(() => h.isOpen(), 3000);
          await new Promise((r) => setImmediate(r));
          if (!opened) return fail(`not reopened before the connect timeout${rejections.length ? ' (unhandled rejection)' : ''}`);
          return rejections.length ? fail('recovers, but leaves an unhandled rejection') : pass();
        });
      } finally {
        process.off('unhandledRejection', onRejection);
        await echo.close();
      }
    },
  },
  {
    id: 'S8',
    title: 'close() during a backoff wait, then reconnect() later: reconnects',
    async run(s) {
      return withEcho(s, { down: true }, { ...FAST, delay: 500, maxDelay: 500, random: () => 0.99 }, async (h, { wx, echo }) => {
        await until(() => wx.connectCalls >= 1 && h.closes.length + h.errors.length > 0, 3000);
        // The refused task is gone: the client is in its 500 ms backoff wait now.
        if (!(await until(() => wx.live === 0, 3000))) return fail('refused task never closed');
        const calls = wx.connectCalls;
        h.close();
        // The user comes back after the wait would have ended; close() must have cancelled it.
        if (!(await holdsFor(() => wx.connectCalls === calls, 700))) return fail('close() did not stop the retries');
        echo.up();
        h.reconnect();
        return (await until(() => h.isOpen(), 3000)) ? pass() : fail('reconnect() ignored: stays closed');
      });
    },
  },
  {
    id: 'S9',
    title: 'Retries exhausted, then reconnect(): a fresh cycle',
    async run(s) {
      return withEcho(s, { down: true }, { ...FAST, delay: 50, maxDelay: 100, maxRetries: 2 }, async (h, { wx, echo }) => {
        await until(() => wx.connectCalls >= 2, 3000);
        // Retries come within 100 ms; none may follow the last one allowed.
        if (!(await holdsFor(() => wx.connectCalls <= 3, 400))) return fail('maxRetries not honoured');
        echo.up();
        h.reconnect();
        return (await until(() => h.isOpen(), 3000)) ? pass() : fail('reconnect() ignored');
      });
    },
  },
  {
    id: 'S10',
    title: 'Suspend (close 1000 "interrupted") and resume: no connectSocket while suspended, reopens at once on show',
    async run(s) {
      return withEcho(s, {}, { ...FAST, delay: 100, maxDelay: 3000 }, async (h, { wx }) => {
        if (!(await until(() => h.isOpen(), 3000))) return fail('never opens');
        wx.hide();
        wx.suspend();
        // Suspended for 1.2 s: a client that retries in the background calls connectSocket within it.
        await holdsFor(() => wx.callsWhileSuspended === 0, 1200);
        const during = wx.callsWhileSuspended;
        wx.resume();
        wx.show();
        const t0 = Date.now();
        const reopened = await until(() => h.isOpen(), 3000, 5);
        const after = Date.now() - t0;
        const problems: string[] = [];
        if (during) problems.push('connectSocket called while suspended');
        if (!reopened) problems.push('never reopens');
        else if (after > 1000) problems.push('reopens only when its timer fires'); // its wait is up to 3 s; ours: at once
        const c = h.closes[0];
        if (c?.code !== 1000 || c.reason !== 'interrupted') problems.push('close event lost 1000 "interrupted"');
        // The first problem only: which of the later ones show depends on where its timer was.
        return problems.length ? fail(problems[0]!) : pass();
      });
    },
  },
  {
    id: 'S10b',
    title: 'Retries run out in the background, app shown again: the loop restarts',
    async run(s) {
      return withEcho(s, {}, { ...FAST, delay: 50, maxDelay: 100, maxRetries: 2 }, async (h, { wx }) => {
        if (!(await until(() => h.isOpen(), 3000))) return fail('never opens');
        wx.hide();
        wx.suspend();
        // 0.8 s in the background (nothing can open while suspended): a client that retries there
        // (50–100 ms waits) runs out of its 2 retries.
        const opens = h.opens;
        await holdsFor(() => h.opens === opens, 800);
        wx.resume();
        wx.show();
        return (await until(() => h.isOpen(), 1500)) ? pass() : fail('stays closed after show');
      });
    },
  },
  {
    id: 'S10c',
    title: 'App shown during a pending backoff wait: the wait is cut, connect starts at once',
    async run(s) {
      return withEcho(s, { down: true }, { ...FAST, delay: 4000, maxDelay: 4000, random: () => 0.99 }, async (h, { wx, echo }) => {
        await until(() => h.closes.length + h.errors.length > 0, 3000);
        // The refused task is gone: the client is in its 4 s backoff wait now.
        if (!(await until(() => wx.live === 0, 3000))) return fail('refused task never closed');
        echo.up();
        const calls = wx.connectCalls;
        wx.hide();
        wx.show();
        const t0 = Date.now();
        const ok = await until(() => h.isOpen(), 2500, 5);
        if (!ok) return fail('waits out its timer');
        // ~3.6 s of the wait remain; a generous bound keeps a loaded machine from flaking.
        return Date.now() - t0 < 1000 && wx.connectCalls > calls ? pass() : fail('waits out its timer');
      });
    },
  },
  {
    id: 'S11',
    title: 'Half-open link (server frozen with SIGSTOP): closed within interval + timeout, reconnected after SIGCONT',
    async run(s, env) {
      const server = await startCli(env);
      const wx = shimFor(env);
      const t: Timing = { ...FAST, heartbeatInterval: 400, heartbeatTimeout: 400, connectTimeout: 500 };
      try {
        return await withHandle(s, wx, server.url, t, async (h) => {
          if (!(await until(() => h.isOpen(), 5000))) return fail('never opens');
          const opens = h.opens;
          server.proc.kill('SIGSTOP');
          const t0 = Date.now();
          const detected = await until(() => !h.isOpen(), 2500, 5);
          const took = Date.now() - t0;
          server.proc.kill('SIGCONT');
          if (!detected) return fail('stays OPEN: no heartbeat');
          if (took > 400 + 400 + 500) return fail('detected late'); // interval + timeout + scheduling slack
          if (!(await until(() => h.isOpen() && h.opens > opens, 6000))) return fail('no reconnect after SIGCONT');
          return pass();
        });
      } finally {
        server.proc.kill('SIGCONT');
        await server.stop();
      }
    },
  },
  {
    id: 'S12',
    title: 'Close events well-formed: reconnect(4100, "switch"), close(1000, "bye")',
    async run(s) {
      return withEcho(s, {}, FAST, async (h) => {
        const second: { code: unknown; reason: unknown }[] = [];
        h.addCloseListener((e) => second.push({ code: e.code, reason: e.reason }));
        if (!(await until(() => h.isOpen(), 3000))) return fail('never opens');
        h.reconnect(4100, 'switch');
        if (!(await until(() => h.isOpen() && h.opens === 2, 3000))) return fail('no reconnect');
        h.close(1000, 'bye');
        await until(() => second.length >= 2 && h.closes.length >= 2, 2000);
        const want = '4100 switch|1000 bye';
        const got = (l: { code: unknown; reason: unknown }[]) => l.map((c) => `${typeof c.code === 'number' ? c.code : `(${typeof c.code})`} ${typeof c.reason === 'string' ? c.reason : `(${typeof c.reason})`}`).join('|');
        if (got(h.closes) !== want || got(second) !== want) return fail(`close events ${got(h.closes)} / ${got(second)}`);
        return pass();
      });
    },
  },
  {
    id: 'P1',
    title: 'A plain `ws` echo server with no heartbeat support: stays up (our ping echoed = pong)',
    async run(s) {
      return withEcho(s, {}, { ...FAST, heartbeatInterval: 200, heartbeatTimeout: 200 }, async (h) => {
        if (!(await until(() => h.isOpen(), 3000))) return fail('never opens');
        if (!(await holdsFor(() => h.isOpen() && h.opens === 1, 1500))) return fail('link dropped');
        if (h.messages.length) return fail('heartbeat frames surface as messages');
        h.send('hello');
        return (await until(() => h.messages[0] === 'hello', 2000)) ? pass() : fail('no echo');
      });
    },
  },
  {
    id: 'P2',
    title: 'A server that never answers: keepalive-only setting (heartbeatTimeout 0) keeps the link',
    async run(s) {
      const silent = await startEcho((ws) => ws.removeAllListeners('message'));
      const wx = createWxShim();
      try {
        return await withHandle(s, wx, silent.url, { ...FAST, heartbeatInterval: 200, heartbeatTimeout: 0 }, async (h) => {
          if (!(await until(() => h.isOpen(), 3000))) return fail('never opens');
          return (await holdsFor(() => h.isOpen() && h.opens === 1, 1200)) ? pass() : fail('link dropped');
        });
      } finally {
        await silent.close();
      }
    },
  },
];

/** Notes whether an unhandled rejection carrying `tag` happens while a scenario runs. */
function trackUnhandled(tag: unknown) {
  const state = { seen: false, stop: () => {} };
  const on = (reason: unknown) => {
    if (reason === tag) state.seen = true;
  };
  process.on('unhandledRejection', on);
  state.stop = () => process.off('unhandledRejection', on);
  return state;
}

/** Runs every scenario (or those in `ids`) for `subject`, one after another. */
export async function runAll(subject: Subject, env: Env, ids?: string[]): Promise<Record<string, Outcome>> {
  const out: Record<string, Outcome> = {};
  for (const sc of SCENARIOS) {
    if (ids && ids.length && !ids.includes(sc.id)) continue;
    try {
      out[sc.id] = await sc.run(subject, env);
    } catch (e) {
      out[sc.id] = fail(`harness: ${errText(e)}`);
    }
  }
  return out;
}

// A minimal wss-mp.v1 server on `ws` for the client's end-to-end tests. It is a TEST DOUBLE, not
// wss-mp-server: just enough of docs/protocol.md to exercise wss-mp-client/messaging on real
// sockets (authentication before the upgrade with a real HTTP 401/403, subprotocol selection,
// welcome, acks deduplicated by id, channels with an in-memory history replayed on `sub` with a
// position, server pushes). Swap it for the real server's messaging mode once that lands; keep it
// minimal until then. Its unit-test twin is packages/client/test/messaging-fake.ts.
import http from 'node:http';
import type net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export const SUBPROTOCOL = 'wss-mp.v1';

interface Stream {
  epoch: string;
  items: { offset: number; data: unknown }[];
}

/** What survives a "restart" when passed to the next server: history and processed requests. */
export interface ServerState {
  streams: Map<string, Stream>;
  answers: Map<string, unknown>;
  /** Request ids in the order the handler ran: a duplicate never runs twice. */
  handled: string[];
}

export const newState = (): ServerState => ({ streams: new Map(), answers: new Map(), handled: [] });

export interface ProtocolServerOptions {
  port?: number;
  /** Token → refusal status, or null to accept. Default: accept everything. */
  authenticate?: (token: string | undefined) => 401 | 403 | null;
  /** false: behave like a plain server that does not speak the protocol. @default true */
  selectProtocol?: boolean;
  /** Kept across restarts when given (a server with durable history). */
  state?: ServerState;
  /** Epoch of streams this server creates. @default 'e1' */
  epoch?: string;
}

export interface ProtocolServer {
  url: string;
  port: number;
  state: ServerState;
  /** Handshakes answered 101 / refused with a status. */
  upgrades: number;
  refused: number;
  /** Tokens the server saw, in order (from the Authorization header or ?token=). */
  tokens: (string | undefined)[];
  /** false: process requests but do not answer (acks "lost"). */
  ack: boolean;
  publish(ch: string, data: unknown): number;
  /** Cuts every connection without a close frame (as a crash or a network cut does). */
  terminateAll(): void;
  close(): Promise<void>;
}

export async function startProtocolServer(opts: ProtocolServerOptions = {}): Promise<ProtocolServer> {
  const state = opts.state ?? newState();
  const epoch = opts.epoch ?? 'e1';
  const subs = new Map<WebSocket, Set<string>>();
  const sockets = new Set<net.Socket>();
  let cid = 0;
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (p) => (opts.selectProtocol !== false && p.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  const server = http.createServer((_req, res) => res.writeHead(426).end());
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const stream = (ch: string) => {
    let s = state.streams.get(ch);
    if (!s) state.streams.set(ch, (s = { epoch, items: [] }));
    return s;
  };
  const send = (ws: WebSocket, f: object) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(f));
  const api: ProtocolServer = {
    url: '',
    port: 0,
    state,
    upgrades: 0,
    refused: 0,
    tokens: [],
    ack: true,
    publish(ch, data) {
      const s = stream(ch);
      const offset = (s.items.at(-1)?.offset ?? 0) + 1;
      s.items.push({ offset, data });
      for (const [ws, chs] of subs) if (chs.has(ch)) send(ws, { t: 'pub', ch, offset, epoch: s.epoch, data });
      return offset;
    },
    terminateAll() {
      for (const ws of wss.clients) ws.terminate();
    },
    close: () =>
      new Promise((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        for (const s of sockets) s.destroy();
        wss.close();
        server.close(() => resolve());
      }),
  };

  server.on('upgrade', (req, socket, head) => {
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const token = auth ? auth[1] : (new URL(req.url!, 'http://x').searchParams.get('token') ?? undefined);
    api.tokens.push(token);
    const status = opts.authenticate?.(token) ?? null;
    if (status) {
      // Refused before the upgrade: an HTTP answer, never a 101.
      api.refused++;
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      api.upgrades++;
      wss.emit('connection', ws, req);
    });
  });

  wss.on('connection', (ws) => {
    if (ws.protocol !== SUBPROTOCOL) {
      // Plain mode: echo, as a server without the protocol would.
      ws.on('message', (d, binary) => ws.send(d, { binary }));
      return;
    }
    const chs = new Set<string>();
    subs.set(ws, chs);
    ws.on('close', () => subs.delete(ws));
    send(ws, { t: 'welcome', v: 1, cid: String(++cid), user: null, ping: 25000 });
    ws.on('message', (raw) => {
      const text = raw.toString();
      if (text === '{"type":"ping"}') return ws.send('{"type":"pong"}');
      let f: any;
      try {
        f = JSON.parse(text);
      } catch {
        return send(ws, { t: 'error', code: 'BAD_FRAME', message: 'not JSON' });
      }
      if (f.t === 'req') {
        if (!state.answers.has(f.id)) {
          state.handled.push(f.id);
          state.answers.set(f.id, f.data);
        }
        if (api.ack) send(ws, { t: 'ack', id: f.id, data: state.answers.get(f.id) });
      } else if (f.t === 'sub') {
        const s = stream(f.ch);
        const top = s.items.at(-1)?.offset ?? 0;
        let recovered = true;
        if (f.pos) {
          const first = s.items[0]?.offset ?? top + 1;
          if (f.pos.epoch !== s.epoch || f.pos.offset > top || f.pos.offset + 1 < first) recovered = false;
          else for (const i of s.items) if (i.offset > f.pos.offset) send(ws, { t: 'pub', ch: f.ch, offset: i.offset, epoch: s.epoch, data: i.data });
        }
        chs.add(f.ch);
        send(ws, { t: 'ack', id: f.id, data: { ch: f.ch, offset: top, epoch: s.epoch, recovered } });
      } else if (f.t === 'unsub') {
        chs.delete(f.ch);
        send(ws, { t: 'ack', id: f.id });
      } else send(ws, { t: 'error', code: 'BAD_FRAME', message: `unknown t` });
    });
  });

  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  api.port = (server.address() as net.AddressInfo).port;
  api.url = `ws://127.0.0.1:${api.port}/ws`;
  return api;
}

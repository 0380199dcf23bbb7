// A transparent TCP relay that records the first request head of every connection: put it
// between a proxy and the app server to see exactly which headers the proxy sent upstream
// (X-Forwarded-For overwritten or appended? Forwarded removed?). Bytes pass unchanged in both
// directions and both sides close together, so it adds no timeouts of its own.
import net from 'node:net';
import { waitFor } from './wait';

export interface RecordedHead {
  /** Request line, e.g. `GET /wss?t=1 HTTP/1.1`. */
  requestLine: string;
  /** Header fields in order, names lower-cased, repeated fields kept. */
  headers: Array<[string, string]>;
  /** All values of a header (lower-case name). */
  all(name: string): string[];
}

export interface TcpTap {
  port: number;
  heads: RecordedHead[];
  /** Resolves with the first recorded head (past or future) matching `pred`. */
  waitForHead(pred: (h: RecordedHead) => boolean, timeout?: number): Promise<RecordedHead>;
  close(): Promise<void>;
}

function parseHead(text: string): RecordedHead {
  const [requestLine = '', ...lines] = text.split('\r\n');
  const headers = lines
    .filter(Boolean)
    .map((l): [string, string] => {
      const i = l.indexOf(':');
      return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
    });
  return { requestLine, headers, all: (n) => headers.filter(([k]) => k === n.toLowerCase()).map(([, v]) => v) };
}

/** Listens on 127.0.0.1 (free port) and relays every connection to `target`. */
export function startTcpTap(target: { host: string; port: number }): Promise<TcpTap> {
  const heads: RecordedHead[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(target);
    sockets.add(down).add(up);
    let buf = '';
    const sniff = (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end !== -1 || buf.length > 64 * 1024) {
        down.off('data', sniff);
        heads.push(parseHead(buf.slice(0, end === -1 ? undefined : end)));
      }
    };
    down.on('data', sniff);
    down.pipe(up);
    up.pipe(down);
    const done = () => {
      down.destroy();
      up.destroy();
      sockets.delete(down);
      sockets.delete(up);
    };
    for (const s of [down, up]) {
      s.on('error', done);
      s.on('close', done);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        heads,
        waitForHead: (pred, timeout = 5000) => waitFor(() => heads.find(pred), { timeout, what: 'a matching request head at the tap' }),
        close: () => new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
      });
    });
  });
}

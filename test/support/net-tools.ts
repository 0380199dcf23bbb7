// Client-side probes for server e2e tests: the real `openssl s_client`, a `ws` client with
// deadlines, and raw TCP/TLS exchanges. Every wait has a deadline; nothing sleeps.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import WebSocket, { type ClientOptions } from 'ws';
import { encodeFrame } from './raw-frames';
import { DeadlineError } from './wait';

export interface SClientResult {
  /** True when the handshake completed (a cipher was negotiated). */
  ok: boolean;
  protocol?: string;
  cipher?: string;
  /** Certificates the server sent (with -showcerts). */
  chain: number;
  /** Serial of the server's leaf certificate (upper-case hex), when it sent one. */
  serial?: string;
  output: string;
}

/**
 * Runs `openssl s_client` against 127.0.0.1:port with SNI localhost and extra args (e.g.
 * ['-tls1_2', '-cipher', 'AES128-GCM-SHA256']); stdin is empty, so it exits after the handshake.
 */
export function sClient(openssl: string, port: number, args: string[], timeout = 10_000): Promise<SClientResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      openssl,
      ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-showcerts', ...args],
      { timeout, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && (err as { killed?: boolean }).killed) return reject(new DeadlineError('openssl s_client', timeout));
        const output = `${stdout}\n${stderr}`;
        const m = /(?:New|Reused), (TLSv[\d.]+), Cipher is (\S+)/.exec(output);
        const ok = !!m && m[2] !== '(NONE)';
        const chain = (stdout.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
        const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(stdout)?.[0];
        let serial: string | undefined;
        if (first) serial = new X509Certificate(first).serialNumber.toUpperCase();
        resolve({ ok, protocol: m?.[1], cipher: ok ? m![2] : undefined, chain, serial, output });
      },
    );
    child.stdin?.end();
  });
}

export interface OpenedSocket {
  ws: WebSocket;
  /** Messages received so far, as [data, isBinary]. */
  messages: Array<[Buffer, boolean]>;
  /** Resolves with the next message (or one already queued and not yet taken). */
  next(timeout?: number): Promise<[Buffer, boolean]>;
  /** Resolves with [code, reason] when the socket closes. */
  closed: Promise<[number, string]>;
}

/** Sends `text` on `c` and asserts that the next message is its echo (`timeout`: ms for it, else next()'s own deadline). */
export async function echoes(c: OpenedSocket, text = 'tom', message?: string, timeout?: number): Promise<void> {
  c.ws.send(text);
  assert.equal((await c.next(timeout))[0].toString(), text, message);
}

/** Opens a ws client (rejects on error, unexpected response or deadline) and records traffic. */
export function openWs(url: string, opts: ClientOptions & { caFile?: string } = {}, timeout = 10_000): Promise<OpenedSocket> {
  const { caFile, ...rest } = opts;
  const ws = new WebSocket(url, { ...rest, ...(caFile ? { ca: readFileSync(caFile) } : {}) });
  const messages: Array<[Buffer, boolean]> = [];
  let taken = 0;
  const waiters: Array<(m: [Buffer, boolean]) => void> = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    messages.push([data, isBinary]);
    const w = waiters.shift();
    if (w) w(messages[taken++]!);
  });
  const closed = new Promise<[number, string]>((resolve) => ws.once('close', (code, reason) => resolve([code, reason.toString()])));
  const next = (t = 10_000) =>
    new Promise<[Buffer, boolean]>((resolve, reject) => {
      if (taken < messages.length) return resolve(messages[taken++]!);
      const timer = setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i !== -1) waiters.splice(i, 1);
        reject(new DeadlineError('a message', t));
      }, t);
      const w = (m: [Buffer, boolean]) => {
        clearTimeout(timer);
        resolve(m);
      };
      waiters.push(w);
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new DeadlineError(`open ${url}`, timeout));
    }, timeout);
    ws.once('open', () => {
      clearTimeout(timer);
      ws.on('error', () => {});
      resolve({ ws, messages, next, closed });
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => {
        ws.terminate();
        reject(Object.assign(new Error(`unexpected response ${res.statusCode}: ${body}`), { status: res.statusCode, body }));
      });
    });
  });
}

/** Sends `payload` on a plain TCP connection; resolves with everything read until the server closes. */
export function rawExchange(port: number, payload: Buffer | string, timeout = 10_000): Promise<{ data: Buffer; error?: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new DeadlineError('the server to close a raw connection', timeout));
    }, timeout);
    sock.on('connect', () => sock.write(payload));
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), error });
    });
  });
}

/** A TLS connection (trusting `caFile`) that writes `request` and resolves with the whole response. */
/**
 * Serial (upper-case hex) of the certificate a fresh TLS handshake gets, verified against `caFile`
 * (null: not verified, whatever its names); a DeadlineError after `timeout` ms.
 */
export function handshakeSerial(port: number, caFile: string | null, timeout = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const trust = caFile === null ? { rejectUnauthorized: false } : { ca: readFileSync(caFile) };
    const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ...trust }, () => {
      const serial = s.getPeerCertificate().serialNumber.toUpperCase();
      s.end();
      resolve(serial);
    });
    s.on('error', reject);
    s.setTimeout(timeout, () => {
      s.destroy();
      reject(new DeadlineError('TLS handshake', timeout));
    });
  });
}

export function tlsExchange(port: number, caFile: string, request: string, timeout = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(caFile) });
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new DeadlineError('a TLS response', timeout));
    }, timeout);
    sock.on('secureConnect', () => sock.write(request));
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (out += d));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

export interface RawWs {
  socket: net.Socket;
  /** Bytes received after the 101 response (unparsed frames). */
  received(): Buffer;
  /** Writes one masked client frame (FIN set). opcode 1 text, 2 binary, 8 close, 9 ping, 10 pong. */
  sendFrame(opcode: number, payload: Buffer | string): boolean;
  /** Resolves when the server closes the TCP connection. */
  closed: Promise<void>;
}

/**
 * A bare WebSocket client over plain TCP (for --behind-proxy servers) that does exactly what
 * it is told: no automatic pong, no close reply, reads only if `read` is true. For testing
 * heartbeats, drain stragglers and slow consumers. For TLS, bad frames and parsed answers,
 * see rawConnect in test/support/raw-frames.ts.
 */
export function rawWs(
  port: number,
  { path = '/wss', headers = {}, read = true, timeout = 10_000 }: { path?: string; headers?: Record<string, string>; read?: boolean; timeout?: number } = {},
): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DeadlineError('a 101 response', timeout));
    }, timeout);
    socket.on('error', () => {});
    socket.on('connect', () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomKey()}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
      );
    });
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (upgraded) return;
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buf.subarray(0, end).toString();
      buf = buf.subarray(end + 4);
      clearTimeout(timer);
      if (!head.startsWith('HTTP/1.1 101')) {
        socket.destroy();
        return reject(new Error(`no upgrade: ${head.split('\r\n')[0]}`));
      }
      upgraded = true;
      if (!read) socket.pause();
      resolve({
        socket,
        received: () => buf,
        sendFrame: (opcode, payload) => socket.write(frame(opcode, typeof payload === 'string' ? Buffer.from(payload) : payload)),
        closed,
      });
    };
    socket.on('data', onData);
    socket.once('close', () => {
      clearTimeout(timer);
      if (!upgraded) reject(new Error('closed before the upgrade'));
    });
  });
}

function randomKey(): string {
  return Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256))).toString('base64');
}

const FIXED_MASK = Buffer.from([0x12, 0x34, 0x56, 0x78]);

/** A masked client frame with FIN set (test/support/raw-frames.ts writes any other kind). */
export function frame(opcode: number, payload: Buffer): Buffer {
  return encodeFrame({ opcode, payload, mask: FIXED_MASK });
}

// Hand-built WebSocket frames over a raw TCP or TLS socket: the Autobahn substitute's toolkit
// (see test/server-frames.e2e.test.ts). The writer does exactly what it is told (unmasked
// frames, RSV bits, reserved opcodes, lying length headers, 64-bit lengths, fragments); the
// client does the RFC 6455 upgrade by hand, answers nothing on its own (no pong, no close
// reply) and parses every frame the server sends. Every wait has a deadline; nothing sleeps.
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { DeadlineError } from './wait';

export const OP = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;
/** RSV bits as they sit in the first byte's 0x70 nibble, shifted down: RSV1 = 4, RSV2 = 2, RSV3 = 1. */
export const RSV1 = 4;
export const RSV2 = 2;
export const RSV3 = 1;

export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  /** FIN bit; default true. */
  fin?: boolean;
  /** RSV bits (RSV1 | RSV2 | RSV3), default 0. */
  rsv?: number;
  /** true (default): a random masking key; a 4-byte Buffer: that key; false: unmasked (illegal from a client). */
  mask?: boolean | Buffer;
  /**
   * The payload length to declare in the header, default payload.length. May lie: declare
   * 200 MiB and send no body. Only the header and masking key are written beyond `payload`.
   */
  length?: number | bigint;
  /** Length encoding: 7-bit, 16-bit (126) or 64-bit (127). Default the smallest that fits. */
  lengthForm?: 7 | 16 | 64;
}

/** Encodes one frame as a client would (masked unless told otherwise). */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const declared = BigInt(spec.length ?? payload.length);
  const form = spec.lengthForm ?? (declared < 126n ? 7 : declared < 65536n ? 16 : 64);
  const maskKey = spec.mask === false ? undefined : Buffer.isBuffer(spec.mask) ? spec.mask : randomBytes(4);
  if (maskKey && maskKey.length !== 4) throw new RangeError('masking key must be 4 bytes');
  const b0 = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 7) << 4) | (spec.opcode & 0x0f);
  const m = maskKey ? 0x80 : 0;
  let head: Buffer;
  if (form === 7) {
    if (declared > 125n) throw new RangeError('7-bit length form holds at most 125');
    head = Buffer.from([b0, m | Number(declared)]);
  } else if (form === 16) {
    if (declared > 0xffffn) throw new RangeError('16-bit length form holds at most 65535');
    head = Buffer.from([b0, m | 126, 0, 0]);
    head.writeUInt16BE(Number(declared), 2);
  } else {
    head = Buffer.from([b0, m | 127, 0, 0, 0, 0, 0, 0, 0, 0]);
    head.writeBigUInt64BE(declared, 2);
  }
  if (!maskKey) return Buffer.concat([head, payload]);
  const body = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = payload[i]! ^ maskKey[i & 3]!;
  return Buffer.concat([head, maskKey, body]);
}

/** A close frame's payload: 2-byte code (any value, also illegal ones) and a UTF-8 reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

export interface ServerFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Incremental frame parser for what a server sends (the masked bit is reported, not required). */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): ServerFrame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: ServerFrame[] = [];
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (b[1]! & 0x80) !== 0;
      const key = masked ? b.subarray(off, off + 4) : undefined;
      if (masked) off += 4;
      if (b.length < off + len) break;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (key) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
      out.push({ fin: (b[0]! & 0x80) !== 0, rsv: (b[0]! >> 4) & 7, opcode: b[0]! & 0x0f, masked, payload });
      this.buf = b.subarray(off + len);
    }
    return out;
  }

  /** Bytes received that do not (yet) form a whole frame. */
  get pending(): number {
    return this.buf.length;
  }
}

/** Code and reason of a close frame's payload (code undefined for an empty payload). */
export function parseClose(payload: Buffer): { code: number | undefined; reason: string } {
  return payload.length >= 2 ? { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString() } : { code: undefined, reason: '' };
}

/** RFC 6455 §4.2.2: the Sec-WebSocket-Accept the server must return for `key`. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
}

export interface Transport {
  port: number;
  /** TLS trusting this CA (PEM); absent: plain TCP (a --behind-proxy server). */
  ca?: string | Buffer;
  /** SNI and certificate name; default localhost. */
  servername?: string;
}

/** Connects a TCP or TLS socket; resolves once it can carry bytes (after the TLS handshake). */
export function connectRaw(t: Transport, timeout = 10_000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = t.ca
      ? tls.connect({ port: t.port, host: '127.0.0.1', servername: t.servername ?? 'localhost', ca: t.ca, ALPNProtocols: ['http/1.1'] })
      : net.connect(t.port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DeadlineError(`a ${t.ca ? 'TLS' : 'TCP'} connection to port ${t.port}`, timeout));
    }, timeout);
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', fail);
    socket.once(t.ca ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

export interface HttpAnswer {
  /** Status code of the response. */
  status: number;
  /** The status line. */
  statusLine: string;
  /** Response headers, names lower-cased. */
  headers: Record<string, string>;
  body: string;
  /**
   * Settles when the connection is gone after the answer: `end` (the server sent FIN),
   * `reset` (an error such as ECONNRESET). Never rejects; pair it with a deadline.
   */
  closed: Promise<{ how: 'end' | 'reset'; error?: string }>;
  socket: net.Socket;
}

/**
 * Writes `request` (raw bytes: a malformed handshake, a plain GET) on a fresh TCP/TLS
 * connection and resolves with the parsed answer as soon as it is complete (headers and
 * Content-Length bytes of body), whether or not the server then closes. No answer at all
 * before the server closes, or before the deadline, rejects.
 */
export async function rawHttp(t: Transport, request: string | Buffer, timeout = 5_000): Promise<HttpAnswer> {
  const socket = await connectRaw(t, timeout);
  let error: string | undefined;
  let sawEnd = false;
  socket.on('end', () => (sawEnd = true));
  socket.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
  const closed = new Promise<{ how: 'end' | 'reset'; error?: string }>((resolve) =>
    socket.once('close', () => resolve({ how: sawEnd && !error ? 'end' : 'reset', error })),
  );
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DeadlineError(`an HTTP answer to ${JSON.stringify(String(request).split('\r\n')[0])}`, timeout));
    }, timeout);
    const parse = (): HttpAnswer | undefined => {
      const split = text.indexOf('\r\n\r\n');
      if (split === -1) return undefined;
      const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const body = text.slice(split + 4);
      const length = Number(headers['content-length'] ?? 0);
      if (body.length < length) return undefined;
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
      return { status, statusLine, headers, body: body.slice(0, length), closed, socket };
    };
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      text += d;
      const answer = parse();
      if (!answer) return;
      clearTimeout(timer);
      resolve(answer);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`connection closed (${error ?? 'FIN'}) without a complete HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
    });
    socket.write(request);
  });
}

export interface RawClient {
  socket: net.Socket;
  /** Every frame the server sent, in order. */
  frames: ServerFrame[];
  /** Writes frames (specs are encoded) or raw bytes; false when the socket asks to wait for 'drain'. */
  send(...parts: Array<FrameSpec | Buffer>): boolean;
  /** Resolves with the next frame not yet taken (frames already received count). */
  nextFrame(timeout?: number): Promise<ServerFrame>;
  /**
   * Resolves with the server's close frame (code, reason, and the data frames before it);
   * rejects if the connection ends without one or on the deadline.
   */
  closeFrame(timeout?: number): Promise<{ code: number | undefined; reason: string; at: number }>;
  /** Resolves when the TCP connection is gone: `end` when the server sent FIN, `reset` on an error. */
  ended: Promise<{ how: 'end' | 'reset'; error?: string; at: number }>;
  /** Bytes received after the 101 that are not a whole frame yet. */
  pendingBytes(): number;
}

export interface RawConnectOptions {
  path?: string;
  /** Extra upgrade request headers (e.g. an Origin to find this connection in the server log). */
  headers?: Record<string, string>;
  /** Stop reading right after the 101 (a peer whose receive window fills up). */
  paused?: boolean;
  timeout?: number;
}

/** Connects and upgrades by hand, checking the 101 and Sec-WebSocket-Accept. */
export async function rawConnect(t: Transport, opts: RawConnectOptions = {}): Promise<RawClient> {
  const { path = '/wss', headers = {}, paused = false, timeout = 10_000 } = opts;
  const socket = await connectRaw(t, timeout);
  const key = randomBytes(16).toString('base64');
  const parser = new FrameParser();
  const frames: ServerFrame[] = [];
  let taken = 0;
  const frameWaiters = new Set<() => void>();
  let endInfo: { how: 'end' | 'reset'; error?: string; at: number } | undefined;
  let error: string | undefined;
  let sawEnd = false;
  const ended = new Promise<{ how: 'end' | 'reset'; error?: string; at: number }>((resolve) =>
    socket.once('close', () => {
      endInfo = { how: sawEnd && !error ? 'end' : 'reset', error, at: Date.now() };
      resolve(endInfo);
      for (const w of frameWaiters) w();
    }),
  );
  socket.on('end', () => (sawEnd = true));
  socket.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
  const closeAt: number[] = [];
  const onFrames = (d: Buffer) => {
    for (const f of parser.push(d)) {
      frames.push(f);
      if (f.opcode === OP.CLOSE) closeAt.push(Date.now());
    }
    for (const w of frameWaiters) w();
  };

  /** Waits until `pick` finds something, the socket is gone (then `pick` gets a last look) or the deadline. */
  const waitUntil = <R>(pick: () => R | undefined, what: string, ms: number): Promise<R> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const r = pick();
        if (r !== undefined) return done(() => resolve(r));
        if (endInfo) done(() => reject(new Error(`connection ended (${endInfo!.how}${endInfo!.error ? ` ${endInfo!.error}` : ''}) before ${what}`)));
      };
      const timer = setTimeout(() => done(() => reject(new DeadlineError(what, ms))), ms);
      const done = (f: () => void) => {
        clearTimeout(timer);
        frameWaiters.delete(check);
        f();
      };
      frameWaiters.add(check);
      check();
    });

  await new Promise<void>((resolve, reject) => {
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DeadlineError('a 101 response', timeout));
    }, timeout);
    const onHead = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      clearTimeout(timer);
      socket.off('data', onHead);
      socket.off('close', onClose);
      const text = head.subarray(0, end).toString('latin1');
      const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(text)?.[1];
      if (!text.startsWith('HTTP/1.1 101')) {
        socket.destroy();
        return reject(new Error(`no upgrade: ${text.split('\r\n')[0]}`));
      }
      if (accept !== acceptFor(key)) {
        socket.destroy();
        return reject(new Error(`bad Sec-WebSocket-Accept ${accept}`));
      }
      if (paused) socket.pause();
      socket.on('data', onFrames);
      const rest = head.subarray(end + 4);
      if (rest.length) onFrames(rest);
      resolve();
    };
    const onClose = () => {
      clearTimeout(timer);
      reject(new Error(`closed before the upgrade: ${head.toString('latin1').split('\r\n')[0]}`));
    };
    socket.on('data', onHead);
    socket.once('close', onClose);
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: localhost:${t.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
  });

  return {
    socket,
    frames,
    send: (...parts) => {
      const bufs = parts.map((p) => (Buffer.isBuffer(p) ? p : encodeFrame(p)));
      return socket.write(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs));
    },
    nextFrame: (ms = 5_000) => waitUntil(() => (taken < frames.length ? frames[taken++] : undefined), 'a frame from the server', ms),
    closeFrame: (ms = 5_000) =>
      waitUntil(() => {
        const i = frames.findIndex((f) => f.opcode === OP.CLOSE);
        return i === -1 ? undefined : { ...parseClose(frames[i]!.payload), at: closeAt[0]! };
      }, 'a close frame from the server', ms),
    ended,
    pendingBytes: () => parser.pending,
  };
}

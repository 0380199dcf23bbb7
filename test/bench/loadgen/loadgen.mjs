#!/usr/bin/env node
// Load generator: one process, started by the orchestrator (test/bench/main.ts) pinned to the
// core the server is NOT on. Plain JavaScript on purpose: it runs with no loader, so start-up
// is fast and nothing but `ws` / `node:tls` sits between the timer and the socket.
//
// Usage: node loadgen.mjs '<json config>'   (see `Config` below)
// Talks to the orchestrator with one JSON object per stdout line:
//   {"phase":"ready"}                      all connections open, warm-up starting
//   {"phase":"start"}                      measuring window starts (orchestrator samples /proc)
//   {"phase":"end", ...result}             window over; result fields depend on the mode
//   {"phase":"held","n":5000}              idle mode: n connections open; waits for "next\n" on stdin
//   {"phase":"error","message":"..."}      fatal; exit code 1
// Every run is bounded: a hard deadline (config.deadlineMs) kills the process with a result.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import tls from 'node:tls';
import WebSocket from 'ws';

/**
 * @typedef {object} Config
 * @property {'ws'|'tls'} kind           ws: WebSocket (ws:// or wss://); tls: raw TLS byte echo
 * @property {'pingpong'|'throughput'|'burst'|'handshake'|'idle'} mode
 * @property {string} url                ws://127.0.0.1:P/wss, wss://127.0.0.1:P/wss, or tls://127.0.0.1:P
 * @property {string} [ca]               PEM file the client trusts (root CA)
 * @property {string[]} [localAddresses] source addresses, used round-robin (127.0.0.x)
 * @property {number} conns              connections (pingpong, throughput), or concurrency (handshake)
 * @property {number} [size]             message size in bytes (pingpong 32, throughput 1024)
 * @property {number} [window]           messages in flight per connection (throughput 16)
 * @property {number} [burst]            burst: frames the server answers each request with (10)
 * @property {number} [warmupMs]
 * @property {number} [durationMs]
 * @property {number[]} [idleSteps]      idle: cumulative connection counts to hold, e.g. [5000, 10000]
 * @property {number} [openConcurrency]  idle: connection attempts in flight while opening
 * @property {{secret: string, rooms: number, roomsPerConn: number}} [messaging]
 *                                       idle: every connection a wss-mp.v1 user (`u<n>`, an HS256 JWT signed
 *                                       with `secret`) subscribed to `$user` and `roomsPerConn` of `rooms`
 *                                       shared channels; "open" once every subscription is acknowledged
 * @property {number} [deadlineMs]       hard cap for the whole process
 */

/** @type {Config} */
const cfg = JSON.parse(process.argv[2] ?? '{}');
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const fail = (message) => {
  out({ phase: 'error', message: String(message) });
  process.exit(1);
};
process.on('uncaughtException', (e) => fail(e && e.stack ? e.stack : e));

const deadline = setTimeout(() => fail(`deadline ${cfg.deadlineMs} ms exceeded`), cfg.deadlineMs ?? 120_000);
deadline.unref();

const u = new URL(cfg.url);
const host = u.hostname;
const port = Number(u.port);
const secure = u.protocol === 'wss:' || u.protocol === 'tls:';
// One SecureContext for every connection: passing `ca` instead would make tls.connect parse the
// PEM on every handshake. The first connection of every process verifies the chain and the
// host name against the root CA (so a wrong certificate fails the run); the others skip it,
// because a verified handshake costs the client ~35 % more CPU (getPeerCertificate for the
// host-name check) and the load generator must not be the bottleneck. The server's work is
// the same either way.
const verifyingContext = secure && cfg.ca ? tls.createSecureContext({ ca: readFileSync(cfg.ca) }) : undefined;
const plainContext = secure ? tls.createSecureContext({}) : undefined;
let verified = false;
const tlsClientOptions = () => {
  if (!secure) return {};
  if (verified || !verifyingContext) return { secureContext: plainContext, rejectUnauthorized: false };
  verified = true;
  return { secureContext: verifyingContext, rejectUnauthorized: true };
};
const servername = 'localhost';
/** An HS256 JWT for user `sub` (node:crypto, as test/support/jwt.ts), valid for an hour. */
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
function jwt(secret, sub) {
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}
let users = 0;

/**
 * cfg.messaging: after the upgrade (JWT in the Authorization header, subprotocol wss-mp.v1) wait
 * for the welcome, subscribe to `$user` and this connection's rooms, and resolve once every
 * subscription is acknowledged without an error.
 */
function subscribeAll(ws, n) {
  const m = cfg.messaging;
  const chs = ['$user', ...Array.from({ length: m.roomsPerConn }, (_, k) => `room-${(n + k) % m.rooms}`)];
  return new Promise((resolve, reject) => {
    let pending = chs.length;
    const onMessage = (data) => {
      const f = JSON.parse(data.toString());
      if (f.t === 'welcome') chs.forEach((ch, k) => ws.send(JSON.stringify({ t: 'sub', id: `s${k}`, ch })));
      else if (f.t === 'ack' && f.error) reject(new Error(`sub refused: ${JSON.stringify(f.error)}`));
      else if (f.t === 'ack' && --pending === 0) {
        ws.off('message', onMessage);
        resolve();
      } else if (f.t === 'error') reject(new Error(`server error frame: ${JSON.stringify(f)}`));
    };
    ws.on('message', onMessage);
  });
}

const addrs = cfg.localAddresses?.length ? cfg.localAddresses : [undefined];
let addrIdx = 0;
const nextAddr = () => addrs[addrIdx++ % addrs.length];

/** Opens one WebSocket or TLS socket; resolves with a small uniform handle. */
function open() {
  const localAddress = nextAddr();
  const opts = tlsClientOptions();
  return new Promise((resolve, reject_) => {
    const reject = (e) => (opts.rejectUnauthorized ? fail(`first connection (verified against the CA) failed: ${e?.message ?? e}`) : reject_(e));
    if (cfg.kind === 'tls') {
      const s = tls.connect({ host, port, servername, localAddress, ALPNProtocols: ['http/1.1'], ...opts });
      s.setNoDelay(true);
      const onErr = (e) => reject(e);
      s.once('error', onErr);
      s.once('secureConnect', () => {
        s.off('error', onErr);
        s.on('error', () => {});
        resolve(tlsHandle(s));
      });
    } else {
      const n = users++;
      const ws = new WebSocket(cfg.url, cfg.messaging ? ['wss-mp.v1'] : undefined, {
        perMessageDeflate: false,
        headers: cfg.messaging ? { authorization: `Bearer ${jwt(cfg.messaging.secret, `u${n}`)}` } : undefined,
        ...opts,
        servername: secure ? servername : undefined,
        localAddress,
        handshakeTimeout: 10_000,
      });
      const onErr = (e) => reject(e);
      ws.once('error', onErr);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('open', () => {
        const ready = cfg.messaging ? subscribeAll(ws, n) : Promise.resolve();
        ready.then(() => {
          ws.off('error', onErr);
          ws.on('error', () => {});
          resolve(wsHandle(ws));
        }, reject);
      });
    }
  });
}

/** Uniform surface: send(buf|string), onMessage(cb(byteLength)), close() → Promise. */
function wsHandle(ws) {
  return {
    send: (d) => ws.send(d),
    onMessage: (cb) => ws.on('message', (data) => cb(data.length)),
    close: () =>
      new Promise((r) => {
        if (ws.readyState === WebSocket.CLOSED) return r();
        ws.once('close', r);
        ws.close(1000);
        setTimeout(() => (ws.terminate(), r()), 2000).unref();
      }),
    kill: () => ws.terminate(),
  };
}

/** A byte echo has no framing: a "message" is `size` bytes coming back. */
function tlsHandle(s) {
  let cb = null;
  s.on('data', (chunk) => cb && cb(chunk.length));
  return {
    send: (d) => s.write(d),
    onMessage: (fn) => (cb = fn),
    close: () =>
      new Promise((r) => {
        if (s.destroyed) return r();
        s.once('close', r);
        s.end();
        setTimeout(() => (s.destroy(), r()), 2000).unref();
      }),
    kill: () => s.destroy(),
  };
}

async function openMany(n, concurrency) {
  const handles = [];
  let errors = 0;
  let next = 0;
  const firstErrors = [];
  async function worker() {
    while (next < n) {
      next++;
      try {
        handles.push(await open());
      } catch (e) {
        errors++;
        if (firstErrors.length < 3) firstErrors.push(String(e?.message ?? e));
        if (errors > Math.max(10, n * 0.01)) throw new Error(`too many connect errors (${errors}): ${firstErrors.join('; ')}`);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return { handles, errors };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs warm-up then the measuring window; `reset` zeroes counters, `collect` returns the result. */
async function window_(reset, collect) {
  out({ phase: 'ready' });
  await sleep(cfg.warmupMs ?? 1000);
  reset();
  const t0 = performance.now();
  out({ phase: 'start' });
  await sleep(cfg.durationMs ?? 3000);
  const seconds = (performance.now() - t0) / 1000;
  const result = collect(seconds);
  out({ phase: 'end', seconds, ...result });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * One request in flight per connection: `payload` goes out, and again each time the answer to it
 * is complete, until `finish()`. `answerer()` makes a connection's `answered(len)`, told each
 * message's length: true when the answer is complete (it keeps the mode's counters). Records the
 * round trip of each answer; `finish()` stops the loops and returns their percentiles.
 */
function roundTrips(handles, payload, answerer) {
  const rtts = new Float64Array(1 << 20);
  let n = 0;
  let stopped = false;
  handles.forEach((h) => {
    let sentAt = 0;
    const answered = answerer();
    h.onMessage((len) => {
      if (!answered(len)) return;
      if (n < rtts.length) rtts[n++] = performance.now() - sentAt;
      if (stopped) return;
      sentAt = performance.now();
      h.send(payload);
    });
    sentAt = performance.now();
    h.send(payload);
  });
  return {
    reset: () => void (n = 0),
    finish() {
      stopped = true;
      const sorted = rtts.subarray(0, n).sort();
      return { rttP50Ms: percentile(sorted, 50), rttP99Ms: percentile(sorted, 99), rttMaxMs: sorted.length ? sorted[sorted.length - 1] : null };
    },
  };
}

async function pingpong() {
  const size = cfg.size ?? 32;
  const payload = cfg.kind === 'tls' ? Buffer.alloc(size, 0x61) : 'a'.repeat(size); // text: what mini programs send
  const { handles, errors } = await openMany(cfg.conns, 64);
  let msgs = 0;
  const trips = roundTrips(handles, payload, () => {
    let got = 0;
    return (len) => {
      got += len;
      if (cfg.kind === 'tls' && got < size) return false; // byte stream: wait for the whole echo
      got = 0;
      msgs++;
      return true;
    };
  });
  await window_(
    () => (trips.reset(), (msgs = 0)),
    (seconds) => ({ msgs, msgsPerSec: msgs / seconds, ...trips.finish(), conns: handles.length, connectErrors: errors }),
  );
  await Promise.all(handles.map((h) => h.close()));
}

/**
 * One binary request in flight per connection; the server answers it with `burst` frames (a
 * burst server, see servers/); the last one triggers the next request. RTT is request → last
 * frame; msgs counts frames.
 */
async function burstMode() {
  const size = cfg.size ?? 32;
  const burst = cfg.burst ?? 10;
  const payload = Buffer.alloc(size, 0x63); // binary: the hook sends back what it got, as is
  const { handles, errors } = await openMany(cfg.conns, 64);
  let frames = 0;
  let requests = 0;
  const trips = roundTrips(handles, payload, () => {
    let got = 0;
    return () => {
      frames++;
      if (++got < burst) return false;
      got = 0;
      requests++;
      return true;
    };
  });
  await window_(
    () => (trips.reset(), (frames = 0), (requests = 0)),
    (seconds) => ({
      msgs: frames,
      msgsPerSec: frames / seconds,
      requests,
      requestsPerSec: requests / seconds,
      ...trips.finish(),
      conns: handles.length,
      connectErrors: errors,
    }),
  );
  await Promise.all(handles.map((h) => h.close()));
}

async function throughput() {
  const size = cfg.size ?? 1024;
  const win = cfg.window ?? 16;
  const payload = Buffer.alloc(size, 0x62);
  const { handles, errors } = await openMany(cfg.conns, 64);
  let bytes = 0;
  let stopped = false;
  handles.forEach((h) => {
    let pending = 0;
    h.onMessage((len) => {
      bytes += len;
      if (stopped) return;
      // ws: one message per callback. tls: count whole echoed messages, keep `win` in flight.
      pending += len;
      while (pending >= size) {
        pending -= size;
        h.send(payload);
      }
    });
    for (let i = 0; i < win; i++) h.send(payload);
  });
  await window_(
    () => (bytes = 0),
    (seconds) => {
      stopped = true;
      return { bytes, mbPerSec: bytes / 1e6 / seconds, msgsPerSec: bytes / size / seconds, conns: handles.length, connectErrors: errors };
    },
  );
  await Promise.all(handles.map((h) => h.kill()));
}

async function handshake() {
  let count = 0;
  let errors = 0;
  let stopped = false;
  const firstErrors = [];
  async function loop() {
    while (!stopped) {
      try {
        const h = await open();
        count++;
        await h.close();
      } catch (e) {
        errors++;
        if (firstErrors.length < 3) firstErrors.push(String(e?.message ?? e));
        await sleep(5);
      }
    }
  }
  const loops = Array.from({ length: cfg.conns }, loop);
  await window_(
    () => ((count = 0), (errors = 0)),
    (seconds) => {
      stopped = true;
      return { handshakes: count, handshakesPerSec: count / seconds, errors, firstErrors };
    },
  );
  await Promise.race([Promise.all(loops), sleep(3000)]);
}

async function idle() {
  const lines = createInterface({ input: process.stdin });
  const waitNext = () => new Promise((r) => lines.once('line', r));
  const held = [];
  let errors = 0;
  for (const target of cfg.idleSteps ?? [5000, 10000]) {
    const t0 = performance.now();
    const r = await openMany(target - held.length, cfg.openConcurrency ?? 100);
    held.push(...r.handles);
    errors += r.errors;
    out({ phase: 'held', n: held.length, errors, openSeconds: (performance.now() - t0) / 1000 });
    await waitNext();
  }
  held.forEach((h) => h.kill());
  lines.close();
}

const modes = { pingpong, throughput, burst: burstMode, handshake, idle };
const fn = modes[cfg.mode];
if (!fn) fail(`unknown mode ${cfg.mode}`);
fn().then(
  () => process.exit(0),
  (e) => fail(e?.stack ?? e),
);

#!/usr/bin/env node
// The clients of the flood mode (test/bench/flood/flood.ts), one process per role, both wss-mp.v1
// over TLS against wss-mp-server with its default rate limits. Plain JavaScript, like the load
// generator: nothing but `ws` between the timer and the socket.
//
//   steady  N well-behaved clients: one request in flight each, the next one interval after the
//           last (20/s, well inside the default 50/s per connection). On "measure NAME MS" (stdin)
//           it records request → ack round trips for MS and prints
//           {"phase":"window","name":…,"n":…,"p50":…,"p99":…,"max":…,"limited":…,"closed":…}.
//   flood   F flooding clients: each sends requests as fast as its socket takes them until the
//           server closes it, then reconnects and floods again. Prints {"phase":"cut","code":…}
//           when the server first closes one; on "stop" {"phase":"end","cuts":{"4029":n,…},…},
//           then exits.
//
// Both print {"phase":"ready"} when their connections are open, {"phase":"error",…} on a fatal
// error (exit 1). A hard deadline (config.deadlineMs) bounds each process.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import tls from 'node:tls';
import WebSocket from 'ws';

/**
 * @typedef {object} Config
 * @property {'steady'|'flood'} role
 * @property {string} url                 wss://127.0.0.1:P/wss
 * @property {string} ca                  root CA (PEM file): the first connection verifies the chain
 * @property {number} conns               steady: clients; flood: flooders
 * @property {number} [intervalMs]        steady: a client's next request this long after its last (50)
 * @property {number} [size]              bytes of each request's `data` string (32)
 * @property {number} [reconnectRate]     flood: reconnects per second per flooder, at most (token bucket)
 * @property {number} [reconnectBurst]    flood: … and at once
 * @property {string[]} [localAddresses]  source addresses, round-robin
 * @property {number} deadlineMs
 */

/** @type {Config} */
const cfg = JSON.parse(process.argv[2] ?? '{}');
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const fail = (m) => {
  out({ phase: 'error', message: String(m) });
  process.exit(1);
};
process.on('uncaughtException', (e) => fail(e?.stack ?? e));
setTimeout(() => fail(`deadline ${cfg.deadlineMs} ms exceeded`), cfg.deadlineMs ?? 120_000).unref();

// As in loadgen.mjs: the first connection verifies chain and host name, the rest skip the
// client-side check (the server's work is the same).
const verifying = tls.createSecureContext({ ca: readFileSync(cfg.ca) });
const plain = tls.createSecureContext({});
let verified = false;
const addrs = cfg.localAddresses?.length ? cfg.localAddresses : [undefined];
let addrIdx = 0;
const data = 'a'.repeat(cfg.size ?? 32);

/** A wss-mp.v1 socket; resolves once the server's welcome arrived. */
function connect() {
  const first = !verified;
  verified = true;
  const ws = new WebSocket(cfg.url, ['wss-mp.v1'], {
    perMessageDeflate: false,
    servername: 'localhost',
    localAddress: addrs[addrIdx++ % addrs.length],
    secureContext: first ? verifying : plain,
    rejectUnauthorized: first,
    handshakeTimeout: 10_000,
  });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('message', (d) => {
      if (!String(d).startsWith('{"t":"welcome"')) return reject(new Error(`expected a welcome, got ${String(d).slice(0, 80)}`));
      ws.off('error', reject);
      ws.on('error', () => {});
      resolve(ws);
    });
  });
}

const commands = createInterface({ input: process.stdin });

async function steady() {
  const interval = cfg.intervalMs ?? 50;
  const rtts = new Float64Array(1 << 20);
  let n = 0;
  let measuring = false;
  let limited = 0;
  let closed = 0;
  const closeCodes = {};
  const sockets = [];
  for (let i = 0; i < cfg.conns; i++) sockets.push(await connect());
  sockets.forEach((ws, i) => {
    let seq = 0;
    let sentAt = 0;
    let timer = null;
    const send = () => {
      timer = null;
      sentAt = performance.now();
      ws.send(`{"t":"req","id":"s${i}.${++seq}","data":"${data}"}`);
    };
    ws.on('message', (d) => {
      const s = String(d);
      if (s.startsWith('{"t":"ack"')) {
        const now = performance.now();
        if (measuring && n < rtts.length) rtts[n++] = now - sentAt;
        // One request in flight; the next `interval` after the last was sent (or now, if late).
        timer = setTimeout(send, Math.max(0, sentAt + interval - now));
      } else if (s.includes('"RATE_LIMITED"')) limited++;
    });
    ws.on('close', (code) => {
      closed++;
      closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      if (timer) clearTimeout(timer);
    });
    // Spread the first requests over one interval, so the clients do not tick in step.
    timer = setTimeout(send, (interval * i) / sockets.length);
  });
  out({ phase: 'ready', conns: sockets.length });
  for await (const line of commands) {
    const [cmd, name, ms] = line.trim().split(' ');
    if (cmd === 'quit') break;
    if (cmd !== 'measure') continue;
    n = 0;
    const limited0 = limited;
    const closed0 = closed;
    measuring = true;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, Number(ms)));
    measuring = false;
    const seconds = (performance.now() - t0) / 1000;
    const sorted = rtts.subarray(0, n).sort();
    const pct = (p) => (n ? sorted[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)] : null);
    out({ phase: 'window', name, seconds, n, perSec: n / seconds, p50: pct(50), p99: pct(99), max: n ? sorted[n - 1] : null, limited: limited - limited0, closed: closed - closed0, closeCodes });
  }
  for (const ws of sockets) ws.terminate();
}

async function flood() {
  const rate = cfg.reconnectRate ?? 20;
  const burst = cfg.reconnectBurst ?? 60;
  let stopped = false;
  let cutCount = 0;
  const totals = { connects: 0, connectErrors: 0, sent: 0, acks: 0, rateLimitedFrames: 0, cuts: {}, firstConnectError: null };
  // Floods one socket until it closes; resolves with the close code.
  const floodOnce = (ws, k) =>
    new Promise((resolve) => {
      let seq = 0;
      let open = true;
      ws.on('message', (d) => {
        const s = String(d);
        if (s.startsWith('{"t":"ack"')) totals.acks++;
        else if (s.includes('"RATE_LIMITED"')) totals.rateLimitedFrames++;
      });
      ws.once('close', (code) => {
        open = false;
        resolve(code);
      });
      // As fast as the socket takes them: a batch per turn while little is unsent, then yield so
      // the close (and everything else) gets read.
      const pump = () => {
        if (!open || stopped) return;
        // Until the server's close frame arrives (CLOSING: ws would drop what we send).
        for (let i = 0; i < 64 && ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 64 * 1024; i++) {
          ws.send(`{"t":"req","id":"f${k}.${++seq}","data":"${data}"}`);
          totals.sent++;
        }
        setImmediate(pump);
      };
      pump();
    });
  // Each flooder models a client on an IP of its own: the server holds such a client to its
  // per-IP handshake limit (a token bucket), which it waives for loopback, where the bench runs;
  // so the flooder keeps to that limit itself rather than turn into a handshake flood.
  const flooder = async (k) => {
    let tokens = burst;
    let last = performance.now();
    while (!stopped) {
      const now = performance.now();
      tokens = Math.min(burst, tokens + ((now - last) / 1000) * rate);
      last = now;
      if (tokens < 1) {
        await new Promise((r) => setTimeout(r, ((1 - tokens) / rate) * 1000));
        continue;
      }
      tokens -= 1;
      let ws;
      try {
        ws = await connect();
      } catch (e) {
        totals.connectErrors++;
        totals.firstConnectError ??= String(e?.message ?? e);
        continue;
      }
      totals.connects++;
      if (totals.connects === cfg.conns) out({ phase: 'ready', conns: cfg.conns });
      const code = await floodOnce(ws, k);
      if (stopped) break;
      totals.cuts[code] = (totals.cuts[code] ?? 0) + 1;
      if (++cutCount === 1) out({ phase: 'cut', code });
    }
  };
  for (let k = 0; k < cfg.conns; k++) void flooder(k);
  for await (const line of commands) if (line.trim() === 'stop') break;
  stopped = true;
  out({ phase: 'end', ...totals });
  // The open sockets go with the process (exit right after this returns).
}

({ steady, flood })[cfg.role]?.().then(
  () => process.exit(0),
  (e) => fail(e?.stack ?? e),
) ?? fail(`unknown role ${cfg.role}`);

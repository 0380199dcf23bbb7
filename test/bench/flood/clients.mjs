#!/usr/bin/env node
// The clients of the flood mode (test/bench/flood/flood.ts), one process per role, both wss-mp.v1
// over TLS against wss-mp-server with its default rate limits. Plain JavaScript, like the load
// generator: nothing but `ws` between the timer and the socket.
//
//   steady  N well-behaved clients: one request in flight each, the next one interval after the
//           last (20/s, well inside the default 50/s per connection). On "measure NAME MS" (stdin)
//           it records request → ack round trips for MS and prints
//           {"phase":"window","name":…,"n":…,"p50":…,"p99":…,"max":…,"limited":…,"closed":…}.
//   flood   F flooding clients, each from a source address of its own (floodAddresses): each
//           sends requests as fast as its socket takes them until the server closes it, then
//           reconnects at once, as often as the server lets it, and floods again. Prints
//           {"phase":"cut","code":…} when the server first closes one; on "stop"
//           {"phase":"end","cuts":{"4029":n,…},"refused":{…},…}, then exits.
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
 * @property {string[]} [localAddresses]  steady: source addresses, round-robin
 * @property {string[]} [floodAddresses]  flood: flooder k connects from floodAddresses[k]
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
function connect(localAddress = addrs[addrIdx++ % addrs.length]) {
  const first = !verified;
  verified = true;
  const ws = new WebSocket(cfg.url, ['wss-mp.v1'], {
    perMessageDeflate: false,
    servername: 'localhost',
    localAddress,
    secureContext: first ? verifying : plain,
    rejectUnauthorized: first,
    handshakeTimeout: 10_000,
  });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => {
      req.destroy();
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
    });
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
  let stopped = false;
  let cutCount = 0;
  // refused: failed connection attempts by how: an HTTP status (429…), or the error of a socket
  // closed before the WebSocket handshake (the server's refusal at TCP accept, before TLS).
  const totals = { connects: 0, connectErrors: 0, sent: 0, acks: 0, rateLimitedFrames: 0, cuts: {}, refused: {} };
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
  // Each flooder is a client on an address of its own, the attacker the server must hold off:
  // it reconnects the moment a connection ends or is refused, with no backoff; whatever bounds
  // its reconnects is the server's doing (the flood penalty, the per-IP handshake limit).
  const flooder = async (k) => {
    const from = cfg.floodAddresses?.[k];
    while (!stopped) {
      let ws;
      try {
        ws = await connect(from);
      } catch (e) {
        totals.connectErrors++;
        const how = e?.status ? `HTTP ${e.status}` : (e?.code ?? String(e?.message ?? e).slice(0, 60));
        totals.refused[how] = (totals.refused[how] ?? 0) + 1;
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

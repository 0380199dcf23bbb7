#!/usr/bin/env node
// Load generator of the request/ack vs plain echo comparison (request.ts): `conns` connections,
// one message in flight each (the answer to one sends the next), the pingpong shape of
// loadgen.mjs, whose protocol with the orchestrator it speaks (ready / start / end lines).
// Both variants send the same frames, {"t":"req","id":"<conn>.<n, 10 digits>","data":"<size × a>"}, every id
// new: `echo` on a plain connection (the server sends the frame back as is), `request` on a
// wss-mp.v1 one (the server acknowledges it with {"t":"ack","id":…,"data":…}, the same length).
// Plain ws on loopback (no TLS): both pay the transport alike, and it would only dilute the
// difference being measured.
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

/**
 * @typedef {object} Config
 * @property {'echo'|'request'} mode
 * @property {string} url
 * @property {number} conns
 * @property {number} [size]            bytes of `data` (32)
 * @property {string[]} [localAddresses]
 * @property {number} warmupMs
 * @property {number} durationMs
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

const protocol = cfg.mode === 'request';
const data = 'a'.repeat(cfg.size ?? 32);
const addrs = cfg.localAddresses?.length ? cfg.localAddresses : [undefined];

function open(i) {
  const ws = new WebSocket(cfg.url, protocol ? ['wss-mp.v1'] : undefined, { perMessageDeflate: false, localAddress: addrs[i % addrs.length] });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    const ready = () => {
      ws.off('error', reject);
      ws.on('error', () => {});
      resolve(ws);
    };
    if (!protocol) return ws.once('open', ready);
    // wss-mp.v1: the server speaks first (welcome); the measured frames come after it.
    ws.once('message', (d) => (String(d).startsWith('{"t":"welcome"') ? ready() : reject(new Error(`no welcome: ${String(d).slice(0, 80)}`))));
  });
}

const sockets = [];
for (let i = 0; i < cfg.conns; i++) sockets.push(await open(i));
let msgs = 0;
let bytesIn = 0;
let bytesOut = 0;
let wrong = 0;
let stopped = false;
const expect = protocol ? '{"t":"ack"' : '{"t":"req"';
sockets.forEach((ws, i) => {
  let n = 0;
  const send = () => {
    // Fixed-width ids: the two windows reach different counts, and must not differ in bytes.
    const frame = `{"t":"req","id":"${i}.${String(++n).padStart(10, '0')}","data":"${data}"}`;
    bytesOut += frame.length;
    ws.send(frame);
  };
  ws.on('message', (d) => {
    // Only the answer we expect counts (and the answer must carry the payload back).
    if (!String(d).startsWith(expect)) wrong++;
    msgs++;
    bytesIn += d.length;
    if (!stopped) send();
  });
  send();
});
out({ phase: 'ready' });
await new Promise((r) => setTimeout(r, cfg.warmupMs));
msgs = bytesIn = bytesOut = wrong = 0;
const t0 = performance.now();
out({ phase: 'start' });
await new Promise((r) => setTimeout(r, cfg.durationMs));
const seconds = (performance.now() - t0) / 1000;
stopped = true;
out({ phase: 'end', seconds, msgs, msgsPerSec: msgs / seconds, bytesInPerMsg: bytesIn / msgs, bytesOutPerMsg: bytesOut / msgs, wrong, conns: sockets.length });
for (const ws of sockets) ws.terminate();
process.exit(0);

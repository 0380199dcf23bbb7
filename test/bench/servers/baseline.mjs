#!/usr/bin/env node
// Baseline echo servers the benchmark compares wss-mp-server against, in the same run:
//   https-ws  node:https + ws, with exactly wss-mp-server's TLS options (the reference to beat)
//   http-ws   node:http + ws, no TLS (also the backend behind nginx for "nginx + raw ws")
//   tls-echo  node:tls byte echo, no HTTP, no WebSocket framing (the ceiling for TLS on Node)
// This is the plain `ws` recipe from its README, nothing tuned: a user who skips wss-mp-server
// writes this. Plain JavaScript with no loader, like `node packages/server/dist/cli.js`.
//
// Usage: node baseline.mjs '<json>'  {kind, port, host?, burst?, tls?: {cert, key, ...tls options}}
// `burst` (default 1): the ws echo answers each message with that many copies (the burst mode).
// `tls` carries file paths for cert/key plus the policy options (minVersion, ciphers, ecdhCurve,
// ...) as the orchestrator read them from packages/server/src/common/tls.ts. Prints
// "listening on <url>" once bound. SIGTERM/SIGINT exit normally, so --cpu-prof gets written.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { WebSocketServer } from 'ws';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const host = cfg.host ?? '127.0.0.1';
const burst = cfg.burst ?? 1;

function tlsOptions() {
  const { cert, key, ...policy } = cfg.tls;
  return { ...policy, cert: readFileSync(cert), key: readFileSync(key) };
}

function attachWs(server) {
  const wss = new WebSocketServer({ server });
  wss.on('error', () => {});
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    if (burst === 1) ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    else ws.on('message', (data, isBinary) => {
      for (let i = 0; i < burst; i++) ws.send(data, { binary: isBinary });
    });
  });
}

let server;
let scheme;
switch (cfg.kind) {
  case 'https-ws':
    server = https.createServer(tlsOptions());
    attachWs(server);
    scheme = 'wss';
    break;
  case 'http-ws':
    server = http.createServer();
    attachWs(server);
    scheme = 'ws';
    break;
  case 'tls-echo':
    server = tls.createServer(tlsOptions(), (s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    scheme = 'tls';
    break;
  default:
    console.error(`unknown kind ${cfg.kind}`);
    process.exit(2);
}
server.on('error', (e) => {
  console.error(String(e));
  process.exit(1);
});
server.on('tlsClientError', () => {});
server.on('clientError', (_e, socket) => socket.destroy());
server.listen(cfg.port ?? 0, host, () => {
  const { port } = server.address();
  const path = scheme === 'tls' ? '' : '/wss';
  console.log(`listening on ${scheme}://${host}:${port}${path}`);
});
const exit = () => process.exit(0);
process.on('SIGTERM', exit);
process.on('SIGINT', exit);

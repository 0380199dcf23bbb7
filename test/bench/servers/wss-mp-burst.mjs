#!/usr/bin/env node
// The burst mode's wss-mp-server: the built package's createServer (the same build as the CLI
// under test) with an onMessage hook that answers each message with `burst` copies of it —
// what acknowledgements, history replay and publications do to one connection at once.
// Native TLS with the run's certificate; coalesceWrites on or off.
//
// Usage: node wss-mp-burst.mjs '<json>'  {index, cert, key, burst, coalesceWrites}
// Prints "listening on <url>" once bound; SIGTERM/SIGINT exit normally (--cpu-prof is written).
import { pathToFileURL } from 'node:url';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const { createServer } = await import(pathToFileURL(cfg.index).href);
const burst = cfg.burst ?? 10;
const server = createServer({
  port: 0,
  tls: { certFile: cfg.cert, keyFile: cfg.key },
  logger: false,
  maxConnections: 20_000,
  maxConnectionsPerIp: 20_000,
  coalesceWrites: cfg.coalesceWrites !== false,
  onMessage(conn, data) {
    for (let i = 0; i < burst; i++) conn.send(data);
  },
});
const url = await server.listen();
console.log(`listening on ${url}`);
const exit = () => process.exit(0);
process.on('SIGTERM', exit);
process.on('SIGINT', exit);

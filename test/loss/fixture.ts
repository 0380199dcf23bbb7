// The server under test of the loss matrix, as a child process of its own so that SIGKILL,
// SIGTERM and SIGSTOP are real signals to a real process. Started by harness.ts (bundled with
// the built wss-mp-server: `node fixture.mjs '<json config>'`) with an IPC channel.
//
// It is the application a team would write: wss-mp-server with messaging on, TLS with the
// development certificate, an `onRequest` that applies each request's effect, and a channel
// `feed` published to on the parent's command. Everything the checker needs is appended to
// journal files with appendFileSync, which reaches the kernel before the call returns, so the
// journals survive a SIGKILL of this process:
//   calls.log    `<seq>` every time the handler ran
//   effects/<seq> created when the effect was applied, with O_EXCL: the application's unique key,
//                as a database's would be. It holds across a crash (see docs/delivery.md for why
//                the server's own deduplication cannot) and across processes: with two nodes
//                (the cluster matrix) the other node may have applied it a moment ago.
//   pubs.log     `<epoch> <offset> <seq>` for every publication the server accepted
// With `redis`, streams live in that Redis (under `prefix`), shared with the other node.
// IPC: parent → {pub: seq, pad: bytes}; child → {ready: url, admin}, {published: seq, offset, epoch}, {log: entry}.
import { appendFileSync, closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { createServer, ensureDevCert } from 'wss-mp-server';

export interface FixtureConfig {
  port: number;
  /** Journal directory, shared by every process of one scenario. */
  dir: string;
  /** Dev certificate directory (ensureDevCert). */
  certDir: string;
  /** HS256 secret: connections need a JWT (the user scopes request ids). */
  jwtSecret: string;
  maxBufferedAmount?: number;
  /** Streams in this Redis (two nodes + Redis), instead of this process's memory. */
  redis?: string;
  /** Key prefix in that Redis (scenarios share one Redis). */
  prefix?: string;
  /** Serve /readyz on an admin port (the cluster's balancer probes it). */
  admin?: boolean;
}

const cfg = JSON.parse(process.argv[2]!) as FixtureConfig;
const journal = (name: string) => path.join(cfg.dir, name);
const append = (name: string, line: string) => appendFileSync(journal(name), `${line}\n`);
const send = (m: object) => process.send?.(m);

mkdirSync(journal('effects'), { recursive: true });

/** The application's request handler: the effect is keyed by the request's seq (its business key). */
function handle(data: unknown): unknown {
  const seq = (data as { seq: number }).seq;
  append('calls.log', String(seq));
  let fd: number;
  try {
    fd = openSync(path.join(cfg.dir, 'effects', String(seq)), 'wx');
  } catch (err) {
    // Applied before (by this process, an earlier one, or the other node): the unique key holds.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { seq };
    throw err;
  }
  writeSync(fd, `${process.pid}\n`);
  closeSync(fd);
  return { seq };
}

const cert = await ensureDevCert(cfg.certDir);
const server = createServer({
  port: cfg.port,
  host: '127.0.0.1',
  tls: { certFile: cert.certFile, keyFile: cert.keyFile },
  jwt: { secret: cfg.jwtSecret },
  drainTimeout: 2000,
  ...(cfg.maxBufferedAmount ? { maxBufferedAmount: cfg.maxBufferedAmount } : {}),
  logger: (e) => send({ log: e }),
  messaging: { onRequest: (_conn, data) => handle(data), ...(cfg.redis ? { redis: { url: cfg.redis, prefix: cfg.prefix } } : {}) },
  ...(cfg.admin ? { admin: { port: 0 } } : {}),
  // Rate limits on, at their defaults: requests over them are refused with a retryAfter and the
  // client resends them then (docs/delivery.md, "Rate limits").
});
const url = await server.listen();
let closing = false;
process.on('SIGTERM', () => {
  if (closing) return;
  closing = true;
  // Drain (1001 to every client, as a deploy does), then exit.
  void server.close().then(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
process.on('message', (m: { pub?: number; pad?: number }) => {
  if (m.pub === undefined || closing) return;
  const seq = m.pub;
  // The seq is the publisher's idempotency key: its retries (after a refusal whose outcome it
  // could not know) are never a second publication while the broker remembers the key.
  server.publish('feed', { seq, pad: m.pad ? 'x'.repeat(m.pad) : undefined }, { idempotencyKey: `feed-${seq}` }).then(
    ({ offset, epoch }) => {
      append('pubs.log', `${epoch} ${offset} ${seq}`);
      send({ published: seq, offset, epoch });
    },
    (err: Error) => send({ failed: seq, error: String(err) }),
  );
});
send({ ready: url, admin: server.adminUrl });

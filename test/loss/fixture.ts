// The server under test of the loss matrix, as a child process of its own so that SIGKILL,
// SIGTERM and SIGSTOP are real signals to a real process. Started by harness.ts with
// `node --import tsx fixture.ts '<json config>'` and an IPC channel.
//
// It is the application a team would write: wss-mp-server with messaging on, TLS with the
// development certificate, an `onRequest` that applies each request's effect, and a channel
// `feed` published to on the parent's command. Everything the checker needs is appended to
// journal files with appendFileSync, which reaches the kernel before the call returns, so the
// journals survive a SIGKILL of this process:
//   calls.log    `<seq>` every time the handler ran
//   effects.log  `<seq>` when the effect was applied (once per request: the journal is read back
//                at start, as a database's unique key would be; see docs/delivery.md for why the
//                server's own deduplication cannot cover a crash)
//   pubs.log     `<epoch> <offset> <seq>` for every publication the server accepted
// IPC: parent → {pub: seq, pad: bytes}; child → {ready: url}, {published: seq, offset, epoch}, {log: entry}.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface FixtureConfig {
  /** 'real': wss-mp-server (built); 'double': the protocol test double (plain ws). */
  impl: 'real' | 'double';
  port: number;
  /** Journal directory, shared by every process of one scenario. */
  dir: string;
  /** Dev certificate directory (ensureDevCert) for the real server. */
  certDir?: string;
  maxBufferedAmount?: number;
  /** Module specifier of the server package. @default 'wss-mp-server' */
  serverModule?: string;
}

const cfg = JSON.parse(process.argv[2]!) as FixtureConfig;
const journal = (name: string) => path.join(cfg.dir, name);
const append = (name: string, line: string) => appendFileSync(journal(name), `${line}\n`);
const send = (m: object) => process.send?.(m);

const effects = new Set<number>(
  existsSync(journal('effects.log'))
    ? readFileSync(journal('effects.log'), 'utf8').split('\n').filter(Boolean).map(Number)
    : [],
);

/** The application's request handler: the effect is keyed by the request's seq (its business key). */
function handle(data: unknown): unknown {
  const seq = (data as { seq: number }).seq;
  append('calls.log', String(seq));
  if (!effects.has(seq)) {
    effects.add(seq);
    append('effects.log', String(seq));
  }
  return { seq };
}

interface Publisher {
  url: string;
  publish(ch: string, data: unknown): Promise<{ offset: number; epoch: string }>;
  close(): Promise<void>;
}

async function startReal(): Promise<Publisher> {
  const mod = await import(cfg.serverModule ?? 'wss-mp-server');
  const cert = await mod.ensureDevCert(cfg.certDir);
  const server = mod.createServer({
    port: cfg.port,
    host: '127.0.0.1',
    tls: { certFile: cert.certFile, keyFile: cert.keyFile },
    drainTimeout: 2000,
    ...(cfg.maxBufferedAmount ? { maxBufferedAmount: cfg.maxBufferedAmount } : {}),
    logger: (e: { level?: string; event?: string }) => send({ log: e }),
    messaging: { onRequest: (_conn: unknown, data: unknown) => handle(data) },
  });
  const url = await server.listen();
  return { url, publish: (ch, data) => server.publish(ch, data), close: () => server.close() };
}

async function startDouble(): Promise<Publisher> {
  const { startProtocolServer } = await import('../support/messaging-server');
  // A fresh epoch per process: history dies with it, like the real server's in-memory broker.
  const epoch = Math.random().toString(36).slice(2, 10);
  const s = await startProtocolServer({ port: cfg.port, epoch, onRequest: (_id, data) => handle(data) });
  return {
    url: s.url,
    publish: async (ch, data) => ({ offset: s.publish(ch, data), epoch: s.state.streams.get(ch)!.epoch }),
    close: () => s.close(),
  };
}

const server = await (cfg.impl === 'real' ? startReal() : startDouble());
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
  server.publish('feed', { seq, pad: m.pad ? 'x'.repeat(m.pad) : undefined }).then(
    ({ offset, epoch }) => {
      append('pubs.log', `${epoch} ${offset} ${seq}`);
      send({ published: seq, offset, epoch });
    },
    (err: Error) => send({ failed: seq, error: String(err) }),
  );
});
send({ ready: server.url });

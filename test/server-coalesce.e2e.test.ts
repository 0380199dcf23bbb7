// Write coalescing against the built CLI (the e2e twin of packages/server/test/coalesce.test.ts):
// SIGTERM while a client streams messages at the echo server. Whatever echoes were sent before
// the drain's 1001 (corked or not when the signal landed) must arrive complete, in order and
// before the close frame, and the process must exit 0 after the client answered the close.
// Native TLS and plain, with coalescing on (the default) and off.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPki, issueLeaf, type Leaf, type Pki } from './support/certs';
import { OP, closePayload, encodeFrame, parseClose, rawConnect, type Transport } from './support/raw-frames';
import { startServer } from './support/server';
import { waitFor } from './support/wait';

const DEADLINE = 20_000; // a loaded machine: generous, never a sleep

let pki: Pki;
let leaf: Leaf;
before(() => {
  pki = createPki('wss-mp-coalesce-e2e');
  leaf = issueLeaf(pki);
});
after(() => pki.cleanup());

for (const mode of ['tls', 'plain'] as const) {
  for (const flags of [[], ['--no-coalesce-writes']]) {
    describe(`SIGTERM drain (${mode}${flags.length ? ', ' + flags.join(' ') : ''})`, () => {
      test('echoes sent before the 1001 all arrive, in order, then the close; exit 0', async () => {
        const args = mode === 'tls' ? ['--cert', leaf.fullchain, '--key', leaf.key] : ['--behind-proxy'];
        const server = await startServer([...args, '--heartbeat-interval', '0', '--drain-timeout', '10s', ...flags]);
        try {
          const transport: Transport = mode === 'tls' ? { port: server.port, ca: readFileSync(pki.caCert) } : { port: server.port };
          const c = await rawConnect(transport);
          try {
            // Stream batches of 50 messages (each batch one client write, so one server read
            // and one turn of 50 echoes) until the server's close frame shows up.
            let sent = 0;
            let signalled = false;
            let closed = false;
            void c.closeFrame(DEADLINE).then(() => (closed = true), () => (closed = true));
            while (!closed && sent < 200_000) {
              const batch = Array.from({ length: 50 }, (_, i) => encodeFrame({ opcode: OP.TEXT, payload: `m${sent + i}` }));
              sent += 50;
              const ok = c.send(...batch);
              if (!signalled && c.frames.length >= 500) {
                signalled = true;
                server.proc.kill('SIGTERM');
              }
              if (!ok) await Promise.race([new Promise((r) => c.socket.once('drain', r)), c.ended]);
              else await new Promise((r) => setImmediate(r));
            }
            assert.ok(signalled, 'SIGTERM was sent while echoes flowed');
            const close = await c.closeFrame(DEADLINE);
            assert.equal(close.code, 1001);
            const data = c.frames.filter((f) => f.opcode !== OP.CLOSE);
            assert.ok(data.length >= 500, `${data.length} echoes before the close`);
            data.forEach((f, i) => assert.equal(f.payload.toString(), `m${i}`, `echo ${i} in order`));
            const last = c.frames[c.frames.length - 1]!;
            assert.equal(last.opcode, OP.CLOSE, 'nothing after the close frame');
            assert.equal(parseClose(last.payload).reason, 'server shutting down');
            c.send({ opcode: OP.CLOSE, payload: closePayload(1001) });
            // No second signal (that one exits 1 at once): the first drain ends the process.
            await waitFor(() => server.proc.exitCode !== null, { timeout: DEADLINE, what: 'the server to exit after the drain' });
            assert.equal(server.proc.exitCode, 0);
            const stopped = await waitFor(() => server.logs.find((l) => l.event === 'stopped'), { timeout: DEADLINE, what: 'the stopped line' });
            assert.equal(stopped.terminated, 0, 'the client answered the 1001: nobody terminated');
          } finally {
            c.socket.destroy();
          }
        } finally {
          await server.stop('SIGKILL').catch(() => {});
        }
      });
    });
  }
}

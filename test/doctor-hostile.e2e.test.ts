// `wss-mp-server doctor` (built CLI) against hostile endpoints on loopback: servers that
// trickle their answer a byte at a time, that fail verification while the URL carries
// credentials, and that reflect the token back in altered forms. The doctor must finish by
// its deadline and print no secret in any form.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPki, issueLeaf, type Leaf, type Pki } from './support/certs';
import { startEndpoint } from './support/doctor-endpoints';
import { doctorJson, expectCheck, runDoctorCli } from './support/doctor';
import { RUN_BUDGET_STEPS } from '../packages/server/src/doctor/run';

const HOST = 'wss.example.test';
let pki: Pki;
let good: Leaf;

before(() => {
  pki = createPki('doctor-hostile');
  good = issueLeaf(pki, { hosts: [HOST], name: 'good' });
});
after(() => pki?.cleanup());

/** A plain TCP server that answers any request by writing `answer` one byte per `everyMs`, forever. */
async function trickler(answer: string, everyMs: number, t: { after(fn: () => unknown): void }): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => {
      let i = 0;
      const timer = setInterval(() => {
        // Past the prepared text, keep sending header bytes that never end the head.
        socket.write(i < answer.length ? answer[i]! : 'x');
        i++;
      }, everyMs);
      socket.once('close', () => {
        clearInterval(timer);
        sockets.delete(socket);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

for (const [name, answer] of [
  ['101 then one header byte at a time', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nX-Slow: '],
  ['a trickled status line', 'HTTP/1.1 101 Switching Protocols'],
] as const) {
  test(`the deadline is absolute: ${name} → upgrade FAIL within --timeout, whole run bounded`, async (t) => {
    const port = await trickler(answer, 150, t);
    const t0 = Date.now();
    const r = await doctorJson([`ws://127.0.0.1:${port}/wss`, '--timeout', '1.5s']);
    const elapsed = Date.now() - t0;
    expectCheck(r, 'upgrade', 'FAIL');
    const upgrade = r.checks.find((c) => c.id === 'upgrade')!;
    assert.match(JSON.stringify(upgrade), /ETIMEDOUT|within 1500 ms/);
    // One step of 1.5 s plus process start-up; never more than the whole-run budget.
    assert.ok(elapsed < 1_500 * RUN_BUDGET_STEPS + 3_000, `finished after ${elapsed} ms`);
  });
}

test('an unverified server gets neither the query nor user:pass@ (no Authorization header)', async () => {
  const seen: Array<{ url: string; auth: string | undefined }> = [];
  // Leaf-only chain: the chain check fails, so nothing secret may be sent.
  const server = await startEndpoint({ key: good.key, cert: good.cert, onUpgrade: (url, h) => seen.push({ url, auth: h.authorization }) });
  try {
    const port = server.port;
    const r = await runDoctorCli([`wss://alice:pa55w0rd-s3cret@${HOST}:${port}/wss?token=s3cr3t-t0ken`, '--resolve', `${HOST}:${port}:127.0.0.1`,
      '--ca', pki.caCert, '--timeout', '5s']);
    assert.equal(r.code, 1);
    assert.deepEqual(seen, [{ url: '/wss', auth: undefined }]);
    assert.match(r.stdout, /PASS  upgrade .*\(query string and credentials not sent: the certificate is not trusted\)/);
    assert.doesNotMatch(r.stdout + r.stderr, /s3cr3t|pa55w0rd|alice/);
  } finally {
    await server.close();
  }
});

test('a verified server gets the credentials (the user asked for them)', async () => {
  const seen: Array<string | undefined> = [];
  const server = await startEndpoint({ key: good.key, cert: good.fullchain, onUpgrade: (_url, h) => seen.push(h.authorization) });
  try {
    const port = server.port;
    const r = await doctorJson([`wss://alice:pa55w0rd-s3cret@${HOST}:${port}/wss`, '--resolve', `${HOST}:${port}:127.0.0.1`, '--ca', pki.caCert, '--timeout', '5s']);
    assert.equal(r.ok, true);
    assert.deepEqual(seen, [`Basic ${Buffer.from('alice:pa55w0rd-s3cret').toString('base64')}`]);
    assert.doesNotMatch(r.stdout, /pa55w0rd|alice|YWxpY2U6/);
  } finally {
    await server.close();
  }
});

const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0b20ifQ.Qm9ndXNTaWduYXR1cmVWYWx1ZTEyMzQ1Njc4OTA';

test('redaction covers reflected variants: cased, percent-encoded, truncated, one character off, bare-token query', async (t) => {
  const oneOff = TOKEN.slice(0, 30) + (TOKEN[30] === 'A' ? 'B' : 'A') + TOKEN.slice(31);
  const variants = [TOKEN.toUpperCase(), TOKEN.toLowerCase(), encodeURIComponent(TOKEN).replace(/\./g, '%2E'), TOKEN.slice(0, 20), TOKEN.slice(-24), oneOff];
  const seen: string[] = [];
  const server = http.createServer();
  // Answers every upgrade with a 403 whose body and headers reflect the token in each form.
  server.on('upgrade', (req, socket) => {
    seen.push(req.url ?? '');
    socket.on('error', () => {});
    const body = variants.map((v, i) => `v${i}:${v}`).join(' ');
    socket.end(`HTTP/1.1 403 Forbidden\r\nServer: reflect/${variants[3]}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  for (const url of [`ws://127.0.0.1:${port}/wss?token=${TOKEN}`, `ws://127.0.0.1:${port}/wss?${TOKEN}`]) {
    const text = await runDoctorCli([url, '--timeout', '5s']);
    const json = await runDoctorCli([url, '--timeout', '5s', '--json']);
    const out = text.stdout + text.stderr + json.stdout + json.stderr;
    // The reflection reached the report (so it was scrubbed, not lost).
    assert.match(out, /v0:\*\*\*/);
    assert.match(out, /403/);
    for (const v of [TOKEN, ...variants]) assert.ok(!out.includes(v), `printed ${v} for ${url}:\n${text.stdout}`);
    // No 8-character piece of the token, in any case.
    const lower = out.toLowerCase();
    for (let i = 0; i + 8 <= TOKEN.length; i++) {
      assert.ok(!lower.includes(TOKEN.slice(i, i + 8).toLowerCase()), `printed a piece of the token (${TOKEN.slice(i, i + 8)}) for ${url}`);
    }
  }
  // ws:// is not verified either way, but no certificate failed: the token was sent as given.
  assert.equal(seen[0], `/wss?token=${TOKEN}`);
});

// `wss-mp-server doctor` (built CLI) against the real wss-mp-server: native TLS, and behind a
// real nginx using the config `wss-mp-server proxy-config nginx` prints. Both must pass every
// check; then the usual deployment mistakes on the same stack (wrong path, IP URL, backend
// down, Upgrade not forwarded) must get the right FAIL and fix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPki, issueLeaf, type Leaf, type Pki } from './support/certs';
import { startServer, SERVER_CLI } from './support/server';
import { requireBinary } from './support/binaries';
import { startNginx, type RunningProxy } from './support/proxies';
import { startOnFreePort } from './support/ports';
import { doctorJson, expectCheck, problems, runDoctorCli } from './support/doctor';

const HOST = 'wss.example.test';
let pki: Pki;
let leaf: Leaf;

before(() => {
  pki = createPki('doctor-good');
  leaf = issueLeaf(pki, { hosts: [HOST] });
});
after(() => pki?.cleanup());

const pinned = (port: number, path = '/wss') => [`wss://${HOST}:${port}${path}`, '--resolve', `${HOST}:${port}:127.0.0.1`, '--ca', pki.caCert, '--timeout', '5s'];

test('native TLS wss-mp-server: every check passes, exit 0', async (t) => {
  const server = await startServer(['--cert', leaf.fullchain, '--key', leaf.key, '--host', '127.0.0.1', '--quiet']);
  t.after(() => server.stop());

  const text = await runDoctorCli(pinned(server.port));
  assert.equal(text.code, 0, text.stdout + text.stderr);
  assert.match(text.stdout, /\nOK: 0 fail, 0 warn, \d+ pass, \d+ info, 0 skipped in \d+ ms\n$/);

  const r = await doctorJson(pinned(server.port));
  assert.deepEqual(problems(r), []);
  expectCheck(r, 'tls1.2', 'PASS', /TLS_ECDHE_(RSA|ECDSA)_WITH_AES_(128|256)_GCM_SHA(256|384)/);
  expectCheck(r, 'ats-forward-secrecy', 'PASS', /^TLS_ECDHE_/);
  expectCheck(r, 'static-rsa', 'PASS');
  expectCheck(r, 'legacy-tls', 'PASS', /TLS 1\.0 and 1\.1 refused/);
  expectCheck(r, 'alpn', 'PASS', /http\/1\.1/);
  expectCheck(r, 'chain', 'PASS', /wss\.example\.test ← doctor-good Intermediate CA ← doctor-good Root CA/);
  expectCheck(r, 'trust-anchor', 'INFO', /trusted only through --ca/);
  expectCheck(r, 'upgrade', 'PASS', /^101 Switching Protocols on \/wss/);
  expectCheck(r, 'echo', 'PASS', /got \{"type":"pong"\} in \d+ ms/);
  for (const id of ['remind-domain-list', 'remind-icp', 'remind-root-store', 'remind-devtools']) expectCheck(r, id, 'INFO');
  assert.equal(r.target.address, '127.0.0.1');

  // `--echo tom`: wss-mp-server echoes application messages.
  expectCheck(await doctorJson([...pinned(server.port), '--echo', 'tom']), 'echo', 'PASS', /sent "tom", got it back/);

  // Same server, the usual URL mistakes.
  const wrongPath = await doctorJson(pinned(server.port, '/socket'));
  expectCheck(wrongPath, 'upgrade', 'FAIL', /^HTTP 404 Not Found on \/socket: Not Found: nothing serves WebSockets on this exact path/, /location = \/wss/);
  assert.deepEqual(problems(wrongPath).map((p) => p.split(':')[0]), ['FAIL upgrade', 'SKIP echo']);

  const ip = await doctorJson([`wss://127.0.0.1:${server.port}/wss`, '--ca', pki.caCert, '--timeout', '5s']);
  expectCheck(ip, 'host', 'FAIL', /IP address/, /domain name/);
  expectCheck(ip, 'hostname', 'FAIL', /^ERR_TLS_CERT_ALTNAME_INVALID: IP: 127\.0\.0\.1 is not in the cert's list/, /issue the certificate for 127\.0\.0\.1/);
  expectCheck(ip, 'upgrade', 'PASS');
});

/** wss-mp-server --behind-proxy, and nginx in front with `site` (default: proxy-config's output). */
async function behindNginx(t: import('node:test').TestContext, edit: (site: string) => string = (s) => s) {
  const backend = await startServer(['--behind-proxy', '--quiet']);
  t.after(() => backend.stop());
  const nginx: RunningProxy = await startOnFreePort((port) => {
    const site = execFileSync(process.execPath, [SERVER_CLI, 'proxy-config', 'nginx', '--domain', HOST, '--listen', `127.0.0.1:${port}`,
      '--upstream', `127.0.0.1:${backend.port}`, '--cert', leaf.fullchain, '--key', leaf.key], { encoding: 'utf8' });
    return startNginx({ site: edit(site), port });
  });
  t.after(() => nginx.stop());
  return { backend, nginx, port: nginx.port };
}

test('behind nginx (proxy-config output): every check passes, exit 0', async (t) => {
  if (!requireBinary(t, 'nginx')) return;
  const { port } = await behindNginx(t);
  const r = await doctorJson(pinned(port));
  assert.deepEqual(problems(r), []);
  expectCheck(r, 'ats-forward-secrecy', 'PASS', /^TLS_ECDHE_RSA_WITH_AES_(128|256)_GCM_SHA(256|384) with ECDH X25519/);
  expectCheck(r, 'upgrade', 'PASS', /^101 Switching Protocols on \/wss in \d+ ms \(server: nginx/);
  expectCheck(r, 'echo', 'PASS', /pong/);

  const wrongPath = await doctorJson(pinned(port, '/ws'));
  expectCheck(wrongPath, 'upgrade', 'FAIL', /^HTTP 404 Not Found on \/ws \(server: nginx[^)]*\): Not Found/, /location = \/wss/);
});

test('behind nginx, backend down → FAIL upgrade HTTP 502 with the backend hint', async (t) => {
  if (!requireBinary(t, 'nginx')) return;
  const { backend, port } = await behindNginx(t);
  await backend.stop();
  const r = await doctorJson(pinned(port));
  expectCheck(r, 'upgrade', 'FAIL', /^HTTP 502 Bad Gateway on \/wss \(server: nginx[^)]*\): Bad Gateway: the proxy is up but the backend is down/, /start the backend.*proxy_pass/);
  assert.deepEqual(problems(r).map((p) => p.split(':')[0]), ['FAIL upgrade', 'SKIP echo']);
});

test('behind nginx without Upgrade/Connection forwarding → FAIL upgrade with the proxy hint', async (t) => {
  if (!requireBinary(t, 'nginx')) return;
  // The classic mistake: a plain `location` proxy, no proxy_http_version 1.1, no Upgrade headers.
  const { port } = await behindNginx(t, (site) =>
    site.split('\n').filter((l) => !/proxy_http_version|proxy_set_header (Upgrade|Connection)/.test(l)).join('\n'));
  const r = await doctorJson(pinned(port));
  const c = expectCheck(r, 'upgrade', 'FAIL', /^HTTP 426 Upgrade Required on \/wss \(server: nginx[^)]*\): Upgrade Required: a WebSocket server answered, but the Upgrade header did not reach it/, /proxy_set_header Upgrade \$http_upgrade/);
  assert.match(c.summary, /Upgrade/);
});

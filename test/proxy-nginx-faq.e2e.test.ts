// The contrast the README draws, measured: the Workerman FAQ's nginx sample ("create a wss
// service", method 1), run by the same harness with only its listen port, certificate paths
// and upstream port filled in. Each assertion is a row of the README's line-by-line table;
// the generated config passes the opposite checks in proxy-nginx.e2e.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import WebSocket from 'ws';
import { requireBinary } from './support/binaries';
import { createPki, issueLeaf } from './support/certs';
import { startNginx } from './support/proxies';
import { startOnFreePort } from './support/ports';
import { startServer } from './support/server';
import { startTcpTap } from './support/tcp-tap';
import { within } from './support/wait';

const DOMAIN = 'wss-mp.test';

// Verbatim from the FAQ except the four values in ${}.
const faqSample = (port: number, cert: string, key: string, upstream: number) => `server {
  listen 127.0.0.1:${port};
  # Configurações de domínio omitidas...

  ssl on;
  ssl_certificate ${cert};
  ssl_certificate_key ${key};
  ssl_session_timeout 5m;
  ssl_session_cache shared:SSL:50m;
  ssl_protocols SSLv3 SSLv2 TLSv1 TLSv1.1 TLSv1.2;
  ssl_ciphers ALL:!ADH:!EXPORT56:RC4+RSA:+HIGH:+MEDIUM:+LOW:+SSLv2:+EXP;

  location /wss {
    proxy_pass http://127.0.0.1:${upstream};
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "Upgrade";
    proxy_set_header X-Real-IP $remote_addr;
  }

  # location / {} - outras configurações do site...
}
`;

function lookup(_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) {
  if (opts?.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
}

function sClient(port: number, args: string[]): Promise<string> {
  return within(new Promise((resolve, reject) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', DOMAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (out += b));
    p.on('error', reject);
    p.on('close', () => resolve(out));
  }), 15_000, 'openssl s_client');
}

test("the Workerman FAQ's nginx sample, measured: what our generated config fixes", async (t) => {
  if (!requireBinary(t, 'nginx') || !requireBinary(t, 'openssl')) return;
  const pki = createPki('wss-mp-faq');
  t.after(() => pki.cleanup());
  const leaf = issueLeaf(pki, { hosts: [DOMAIN] });
  const app = await startServer(['--behind-proxy', '--path', '/wss']);
  t.after(() => app.stop());
  const tap = await startTcpTap({ host: '127.0.0.1', port: app.port });
  t.after(() => tap.close());
  // The FAQ hands nginx the leaf alone (server.pem); we give it the same.
  let nginx;
  try {
    nginx = await startOnFreePort((p) => startNginx({ site: faqSample(p, leaf.cert, leaf.key, tap.port), port: p }));
  } catch (err) {
    // nginx >= 1.25.1 removed `ssl on;`: the sample does not even start there.
    assert.match(String(err), /"ssl" directive|unknown directive "ssl"/);
    t.diagnostic('this nginx refuses the FAQ sample outright: "ssl on;" was removed in 1.25.1');
    return;
  }
  t.after(() => nginx.stop());
  const port = nginx.port;
  assert.match(nginx.log(), /the "ssl" directive is deprecated/, 'nginx 1.22 already warns about "ssl on;"');

  await t.test('a non-forward-secret suite (static RSA) is accepted on TLS 1.2: iOS ATS refuses it', async () => {
    const out = await sClient(port, ['-tls1_2', '-cipher', 'AES128-GCM-SHA256']);
    assert.match(out, /New, TLSv1\.2, Cipher is AES128-GCM-SHA256/, out);
  });

  await t.test('no TLS 1.3, and the leaf-only certificate does not verify', async () => {
    const v13 = await sClient(port, ['-tls1_3']);
    assert.doesNotMatch(v13, /New, TLSv1\.3/, v13);
    const chain = await sClient(port, ['-tls1_2', '-CAfile', pki.caCert]);
    assert.match(chain, /Verify return code: (20|21) /, 'unable to get local issuer / verify the first certificate');
  });

  // The client trusts the intermediate directly: with the leaf-only chain nothing else verifies.
  const ca = [readFileSync(pki.caCert), readFileSync(pki.intCert)];

  await t.test('a client-forged X-Forwarded-For reaches the app unchanged; no HSTS', async () => {
    const ws = new WebSocket(`wss://${DOMAIN}:${port}/wss?faq=1`, { ca, lookup: lookup as never, headers: { 'X-Forwarded-For': '6.6.6.6' } });
    const res = await within(new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      ws.once('upgrade', resolve);
      ws.once('error', reject);
    }), 10_000, 'upgrade through the FAQ sample');
    ws.close();
    assert.equal(res.headers['strict-transport-security'], undefined);
    const head = await tap.waitForHead((h) => h.requestLine.startsWith('GET /wss?faq=1 '));
    assert.deepEqual(head.all('x-forwarded-for'), ['6.6.6.6']);
    assert.deepEqual(head.all('x-real-ip'), ['127.0.0.1']);
  });

  await t.test('prefix location: /wssx and /wss-admin are sent to the app too', async () => {
    for (const p of ['/wssx', '/wss-admin']) {
      const ws = new WebSocket(`wss://${DOMAIN}:${port}${p}?faq=2`, { ca, lookup: lookup as never });
      ws.on('error', () => {});
      await within(new Promise((resolve) => ws.once('unexpected-response', resolve)), 10_000, `${p} answered`);
      await tap.waitForHead((h) => h.requestLine.startsWith(`GET ${p}?faq=2 `));
    }
  });
});

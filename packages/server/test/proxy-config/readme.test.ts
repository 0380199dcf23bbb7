// The docs say what the code does: every proxy-config flag and default appears in the package
// README's "## proxy-config" table and in the deployment guide (docs/deployment.md), and the API
// example returns what the README says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROXY_CONFIG } from '../../src/cli/proxy-config';
import { formatDuration } from '../../src/common/units';
import { PROXY_CONFIG_DEFAULTS as D, renderProxyConfig } from '../../src/proxy-config/index';

const here = path.dirname(fileURLToPath(import.meta.url));
const section = (text: string, start: RegExp, end: RegExp) => {
  const m = start.exec(text);
  assert.ok(m, `section ${start} not found`);
  const rest = text.slice(m.index + m[0].length);
  const e = end.exec(rest);
  return e ? rest.slice(0, e.index) : rest;
};
const pkg = section(readFileSync(path.join(here, '../../README.md'), 'utf8'), /^## proxy-config$/m, /^## (?!#)/m);
const root = section(readFileSync(path.join(here, '../../../../docs/deployment.md'), 'utf8'), /^## Behind nginx, Apache or Caddy$/m, /^## Sources$/m);

// The package README's flag table is checked with the other commands' in test/cli/readme.test.ts.
const FLAGS = PROXY_CONFIG.flags.map((f) => `--${f.name}`).filter((f) => f !== '--help');
const secs = (n: number) => formatDuration(n * 1000);

test('the package README API example is true', () => {
  const cfg = renderProxyConfig('nginx', { domain: 'wss.example.com', idleTimeout: '5m' });
  assert.ok(pkg.includes(`cfg.main;     // '${cfg.main}' (nginx)`));
  assert.ok(pkg.includes(`cfg.fileName; // '${cfg.fileName}'`));
});

test('docs/deployment.md shows every flag with its default, and links the checklist', () => {
  for (const f of FLAGS) assert.ok(root.includes(f), `deployment guide does not mention ${f}`);
  assert.ok(root.includes(`[--idle-timeout ${secs(D.idleTimeout)}] [--heartbeat-interval ${secs(D.heartbeatInterval)}] [--worker-shutdown-timeout ${secs(D.workerShutdownTimeout)}]`));
  assert.ok(root.includes(`worker_shutdown_timeout ${D.workerShutdownTimeout}s;`));
  for (const s of ['certbot', '--deploy-hook', 'a2enmod ssl proxy proxy_http headers', 'caddy reload', 'wss-mp-server doctor', 'troubleshooting.md']) {
    assert.ok(root.toLowerCase().includes(s.toLowerCase()), `deployment guide lacks ${s}`);
  }
  // Every directive the FAQ comparison quotes as ours is in the generated nginx config.
  const nginx = renderProxyConfig('nginx', { domain: 'wss.example.com' }).text;
  for (const line of ['listen 443 ssl;', 'ssl_session_timeout 1d;', 'shared:wss_mp_tls:10m;', 'ssl_session_tickets off;',
    'ssl_protocols TLSv1.2 TLSv1.3;', 'ssl_ecdh_curve X25519:prime256v1:secp384r1;', 'ssl_prefer_server_ciphers off;',
    'add_header Strict-Transport-Security "max-age=63072000" always;', 'location = /wss {', 'proxy_set_header Host $host;',
    'proxy_read_timeout 300s;', 'proxy_send_timeout 300s;', 'proxy_connect_timeout 5s;']) {
    assert.ok(root.includes(line), `README quotes no ${line}`);
    assert.ok(nginx.includes(line), `generated nginx lacks ${line}`);
  }
});

// --static: only files under the root, only GET/HEAD, correct types, no traversal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { once } from 'node:events';
import { createServer } from '../../src/index';

/** Raw HTTP so the client does not normalise `..` or `%2e%2e` away. */
function request(port: number, method: string, target: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (out += d));
    s.on('error', reject);
    s.on('close', () => {
      const [head, ...rest] = out.split('\r\n\r\n');
      resolve({ status: Number(head!.split(' ')[1]), headers: head!, body: rest.join('\r\n\r\n') });
    });
  });
}

test('static files: types, index.html, HEAD, 405, traversal and dotfiles refused, upgrades still work', async (t) => {
  const base = mkdtempSync(path.join(tmpdir(), 'wss-mp-static-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const root = path.join(base, 'site');
  mkdirSync(path.join(root, 'assets'), { recursive: true });
  writeFileSync(path.join(root, 'index.html'), '<h1>demo</h1>');
  writeFileSync(path.join(root, 'assets', 'main.js'), 'console.log(1)');
  writeFileSync(path.join(root, '.env'), 'SECRET=1');
  writeFileSync(path.join(base, 'outside.txt'), 'outside');
  symlinkSync(path.join(base, 'outside.txt'), path.join(root, 'link.txt'));
  const server = createServer({ staticDir: root, port: 0, logger: false, heartbeatInterval: 0 });
  await server.listen();
  t.after(() => server.close());
  const port = server.address()!.port;

  const index = await request(port, 'GET', '/');
  assert.equal(index.status, 200);
  assert.match(index.headers, /content-type: text\/html; charset=utf-8/i);
  assert.match(index.headers, /x-content-type-options: nosniff/i);
  assert.equal(index.body, '<h1>demo</h1>');
  const js = await request(port, 'GET', '/assets/main.js?v=1');
  assert.match(js.headers, /content-type: text\/javascript/i);
  const head = await request(port, 'HEAD', '/assets/main.js');
  assert.equal(head.status, 200);
  assert.match(head.headers, /content-length: 14/i);
  assert.equal(head.body, '');
  assert.equal((await request(port, 'POST', '/')).status, 405);
  for (const bad of ['/../outside.txt', '/%2e%2e/outside.txt', '/assets/..%2f..%2foutside.txt', '/.env', '/%2eenv',
    '/link.txt', '/index.html%00.js', '/nope.html', '/assets/%E0%A4%A']) {
    const r = await request(port, 'GET', bad);
    assert.equal(r.status, 404, bad);
    assert.doesNotMatch(r.body, /outside|SECRET/, bad);
  }
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  await once(ws, 'open');
  ws.send('tom');
  const [data] = (await once(ws, 'message')) as [Buffer];
  assert.equal(data.toString(), 'tom', 'an upgrade on / is a WebSocket even with --static');
  ws.close();
});

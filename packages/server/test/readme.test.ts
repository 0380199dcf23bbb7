// The README is part of the interface: its tables must match the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_DEFAULTS } from '../src/server/options';
import { ERROR_CODES } from '../src/common/errors';
import { firstTableRows } from '../../../test/support/markdown';

const here = path.dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(path.join(here, '..', 'README.md'), 'utf8');

/** Rows of the first table after `heading`, as trimmed cells. */
function table(heading: string): string[][] {
  const start = readme.indexOf(heading);
  assert.ok(start !== -1, `README has "${heading}"`);
  return firstTableRows(readme.slice(start));
}

test('README options table matches SERVER_DEFAULTS', () => {
  const rows = new Map(table('### `createServer(options?)').map((r) => [r[0]!.replace(/`/g, ''), r[1]!]));
  for (const [key, value] of Object.entries(SERVER_DEFAULTS)) {
    const row = key === 'plainHost' ? 'host' : key;
    const cell = rows.get(row);
    assert.ok(cell !== undefined, `README documents option ${row}`);
    assert.ok(cell.includes('`' + JSON.stringify(value) + '`'), `${row}: README says ${cell}, code says ${JSON.stringify(value)}`);
  }
  // And every documented default that looks like a value exists in the code.
  for (const [name, cell] of rows) {
    const m = /^`([^`]+)`/.exec(cell);
    if (!m) continue;
    const key = name === 'host' ? 'plainHost' : name;
    assert.ok(key in SERVER_DEFAULTS, `README default for ${name} but no SERVER_DEFAULTS.${key}`);
  }
});

test('docs/errors.md lists every server error code (the one copy of the table)', () => {
  const errors = readFileSync(path.join(here, '../../../docs/errors.md'), 'utf8');
  const rows = firstTableRows(errors.slice(errors.indexOf('## Error codes')));
  const codes = rows.filter((r) => r[1] === 'server').map((r) => r[0]!.replace(/`/g, ''));
  assert.deepEqual(codes.sort(), [...ERROR_CODES].sort());
});

test('README log table lists every event the code logs', () => {
  const events = new Set(table('## Logs').map((r) => r[0]!.replace(/`/g, '')));
  const src = path.join(here, '..', 'src');
  const logged = new Set<string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (e.name !== 'doctor' && e.name !== 'proxy-config') walk(path.join(d, e.name));
      } else if (e.name.endsWith('.ts')) {
        for (const m of readFileSync(path.join(d, e.name), 'utf8').matchAll(/log\.(?:info|warn|error)\('([a-z-]+)'/g)) logged.add(m[1]!);
      }
    }
  };
  walk(src);
  assert.ok(logged.size > 10);
  for (const e of logged) assert.ok(events.has(e), `README documents log event "${e}"`);
  for (const e of events) assert.ok(logged.has(e), `README documents "${e}" but the code never logs it`);
});

test('README messaging, redis, wechatLogin, rateLimit and admin tables match their defaults objects', async () => {
  const { MESSAGING_DEFAULTS } = await import('../src/server/messaging/options');
  const { WECHAT_LOGIN_DEFAULTS } = await import('../src/server/auth/wechat-login');
  const check = (heading: string, defaults: Record<string, unknown>) => {
    const at = readme.indexOf(heading);
    assert.ok(at !== -1, `README has a table headed ${heading}`);
    const rows = new Map(firstTableRows(readme.slice(at)).map((r) => [r[0]!.replace(/`/g, ''), r[1]!]));
    for (const [key, value] of Object.entries(defaults)) {
      const cell = rows.get(key);
      assert.ok(cell !== undefined, `README documents ${key}`);
      assert.ok(cell.includes('`' + JSON.stringify(value) + '`'), `${key}: README says ${cell}, code says ${JSON.stringify(value)}`);
    }
  };
  check('| messaging option |', MESSAGING_DEFAULTS);
  const { REDIS_DEFAULTS } = await import('../src/server/messaging/options');
  check('| `redis` option |', REDIS_DEFAULTS);
  check('| `wechatLogin` option |', WECHAT_LOGIN_DEFAULTS);
  const { RATE_LIMIT_DEFAULTS } = await import('../src/server/ops/rate-limit');
  check('| `rateLimit` option |', RATE_LIMIT_DEFAULTS);
  const { OPS_DEFAULTS } = await import('../src/server/ops/options');
  check('| admin setting |', OPS_DEFAULTS);
});

test('docs/errors.md lists every messaging error code of the protocol', async () => {
  const { MessagingErrorCode } = await import('@wss-mp/protocol');
  const errors = readFileSync(path.join(here, '../../../docs/errors.md'), 'utf8');
  const rows = firstTableRows(errors.slice(errors.indexOf('## Messaging error codes')));
  assert.deepEqual(rows.map((r) => r[0]!.replace(/`/g, '')).sort(), Object.values(MessagingErrorCode).sort());
});

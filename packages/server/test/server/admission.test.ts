// admission: the pure accept/refuse decisions, before the upgrade and once open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCode } from '@wss-mp/protocol';
import { admitOpen, admitUpgrade, REFUSE_FULL, REFUSE_IP_FULL, REFUSE_SHUTTING_DOWN, type UpgradeRefusal } from '../../src/server/admission';

const rules = { paths: ['/wss', '/'], allowedOrigins: new Set(['https://example.com']) };

test('admitUpgrade: a served path is accepted as its index; others are 404 naming the first path', () => {
  assert.equal(admitUpgrade(rules, false, '/wss', undefined), 0);
  assert.equal(admitUpgrade(rules, false, '/', undefined), 1);
  const r = admitUpgrade(rules, false, '/nope', undefined) as UpgradeRefusal;
  assert.equal(r.status, 404);
  assert.equal(r.body, 'No WebSocket endpoint at /nope; use /wss\n');
  assert.match(r.reason, /serving \/wss, \//);
  assert.equal(r.level, 'info');
});

test('admitUpgrade: shutting down is 503 with Retry-After, before anything else', () => {
  const r = admitUpgrade(rules, true, '/nope', 'https://evil.example') as UpgradeRefusal;
  assert.equal(r.status, 503);
  assert.equal(r.headers, 'Retry-After: 5\r\n');
  assert.equal(r.body, 'server shutting down\n');
});

test('admitUpgrade: only http(s) origins are checked, normalised; absent and app origins pass', () => {
  assert.equal(admitUpgrade(rules, false, '/wss', 'https://EXAMPLE.com:443'), 0);
  assert.equal(admitUpgrade(rules, false, '/wss', 'servicewechat.com'), 0, 'not an http(s) origin');
  assert.equal(admitUpgrade(rules, false, '/wss', undefined), 0);
  const r = admitUpgrade(rules, false, '/wss', 'https://evil.example') as UpgradeRefusal;
  assert.deepEqual([r.status, r.level, r.origin, r.body], [403, 'warn', 'https://evil.example', 'origin not allowed\n']);
  // No allow-list: every origin passes.
  assert.equal(admitUpgrade({ paths: ['/wss'], allowedOrigins: new Set() }, false, '/wss', 'https://evil.example'), 0);
});

test('admitOpen: shutdown (1001, not logged), then the total cap, then the per-IP cap (1013); 0 = unlimited', () => {
  const caps = { maxConnections: 10, maxConnectionsPerIp: 2 };
  assert.equal(admitOpen(caps, false, 9, 1), undefined);
  assert.equal(admitOpen(caps, true, 0, 0), REFUSE_SHUTTING_DOWN);
  assert.equal(REFUSE_SHUTTING_DOWN.code, CloseCode.GOING_AWAY);
  assert.equal(REFUSE_SHUTTING_DOWN.level, 'none');
  assert.equal(admitOpen(caps, false, 10, 0), REFUSE_FULL);
  assert.equal(admitOpen(caps, false, 10, 2), REFUSE_FULL, 'the total cap is checked first');
  assert.equal(admitOpen(caps, false, 3, 2), REFUSE_IP_FULL);
  assert.deepEqual([REFUSE_FULL.code, REFUSE_FULL.reason], [CloseCode.TRY_AGAIN_LATER, 'server full']);
  assert.deepEqual([REFUSE_IP_FULL.code, REFUSE_IP_FULL.reason], [CloseCode.TRY_AGAIN_LATER, 'too many connections from your address']);
  assert.equal(admitOpen({ maxConnections: 0, maxConnectionsPerIp: 0 }, false, 1e9, 1e9), undefined);
});

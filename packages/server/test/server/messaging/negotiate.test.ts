import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { subprotocolSelector } from '../../../src/server/messaging/negotiate';

const req = {} as IncomingMessage;

test('wss-mp.v1 only when messaging is on, preferred over the others; otherwise only what the server is configured to speak', () => {
  assert.equal(subprotocolSelector([], true)(new Set(['wss-mp.v1']), req), 'wss-mp.v1');
  assert.equal(subprotocolSelector(['chat'], true)(new Set(['chat', 'wss-mp.v1']), req), 'wss-mp.v1');
  assert.equal(subprotocolSelector([], false)(new Set(['wss-mp.v1']), req), false);
  assert.equal(subprotocolSelector(['wss-mp.v1'], false)(new Set(['wss-mp.v1']), req), false, 'listing it does not turn messaging on');
  assert.equal(subprotocolSelector(['chat'], false)(new Set(['wss-mp.v1', 'chat']), req), 'chat');
  assert.equal(subprotocolSelector([], true)(new Set(['chat']), req), false, 'an unknown protocol is never echoed');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectSubprotocol } from '../../../src/server/messaging/negotiate';
import { resolveMessaging, MESSAGING_DEFAULTS } from '../../../src/server/messaging/options';
import { OptionError } from '../../../src/common/errors';

test('wss-mp.v1 is selected only with messaging on; other offers keep ws\'s first-offered choice', () => {
  assert.equal(selectSubprotocol(new Set(['wss-mp.v1']), true), 'wss-mp.v1');
  assert.equal(selectSubprotocol(new Set(['chat', 'wss-mp.v1']), true), 'wss-mp.v1');
  assert.equal(selectSubprotocol(new Set(['wss-mp.v1']), false), false);
  assert.equal(selectSubprotocol(new Set(['wss-mp.v1', 'chat']), false), 'chat');
  assert.equal(selectSubprotocol(new Set(['chat']), true), 'chat');
});

test('messaging options: true takes the defaults; a bad value throws OptionError naming messaging.<option>', () => {
  assert.equal(resolveMessaging(undefined), undefined);
  assert.equal(resolveMessaging(false), undefined);
  assert.deepEqual({ ...resolveMessaging(true), onRequest: undefined, canSubscribe: undefined, broker: undefined },
    { ...MESSAGING_DEFAULTS, onRequest: undefined, canSubscribe: undefined, broker: undefined });
  for (const [o, name] of [
    [{ historySize: -1 }, 'messaging.historySize'],
    [{ historyTtl: 0 }, 'messaging.historyTtl'],
    [{ requestTimeout: 1.5 }, 'messaging.requestTimeout'],
    [{ onRequest: 'echo' }, 'messaging.onRequest'],
    [{ broker: {} }, 'messaging.broker'],
    ['yes', 'messaging'],
  ] as const) {
    assert.throws(() => resolveMessaging(o as never), (e: unknown) => e instanceof OptionError && e.option === name && e.code === 'ERR_INVALID_OPTION', name);
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setup } from './helpers';

test('smoke: connect, send before open, receive', async () => {
  const { clock, wx, client, ev } = setup();
  assert.equal(client.state, 'idle');
  assert.equal(client.send('a'), 'queued');
  await clock.until(() => client.state === 'open');
  assert.deepEqual(wx.current!.received, ['a']);
  await clock.advance(20);
  assert.deepEqual(ev.message.map((m) => m.data), ['a']);
  assert.equal(client.send('b'), 'sent');
  client.close(1000, 'bye');
  await clock.advance(50);
  assert.equal(wx.live, 0);
  assert.deepEqual(ev.close, [{ code: 1000, reason: 'bye', willReconnect: false }]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MESSAGING_SUBPROTOCOL,
  CloseCode,
  isTerminalCloseCode,
  parseClientFrame,
  parseServerFrame,
  encodeFrame,
  isBadFrame,
  MAX_ID_LENGTH,
  MAX_CHANNEL_LENGTH,
} from '../src/index';

test('the subprotocol name and the slow-consumer close code are part of the contract', () => {
  assert.equal(MESSAGING_SUBPROTOCOL, 'wss-mp.v1');
  assert.equal(CloseCode.SLOW_CONSUMER, 4008);
  // A slow consumer recovers from history: it must come back.
  assert.equal(isTerminalCloseCode(CloseCode.SLOW_CONSUMER), false);
});

test('parseClientFrame accepts the three client frames and ignores unknown fields', () => {
  assert.deepEqual(parseClientFrame('{"t":"req","id":"a-1","data":{"x":[1]},"extra":true}'), { t: 'req', id: 'a-1', data: { x: [1] } });
  assert.deepEqual(parseClientFrame('{"t":"req","id":"a-2"}'), { t: 'req', id: 'a-2', data: undefined });
  assert.deepEqual(parseClientFrame('{"t":"sub","id":"s","ch":"news"}'), { t: 'sub', id: 's', ch: 'news' });
  assert.deepEqual(parseClientFrame('{"t":"sub","id":"s","ch":"news","pos":{"offset":41,"epoch":"q1w2","z":1}}'),
    { t: 'sub', id: 's', ch: 'news', pos: { offset: 41, epoch: 'q1w2' } });
  assert.deepEqual(parseClientFrame('{"t":"unsub","id":"u","ch":"news"}'), { t: 'unsub', id: 'u', ch: 'news' });
});

test('parseClientFrame names what is wrong, and keeps a readable id so the ack can carry it', () => {
  const cases: [string, RegExp, string | undefined][] = [
    ['not json', /not JSON/, undefined],
    ['[1,2]', /not a JSON object/, undefined],
    ['"req"', /not a JSON object/, undefined],
    ['{"t":"nope","id":"x"}', /unknown frame type "nope"/, undefined],
    ['{"id":"x"}', /unknown frame type undefined/, undefined],
    ['{"t":"req"}', /id must be/, undefined],
    [`{"t":"req","id":"${'i'.repeat(MAX_ID_LENGTH + 1)}"}`, /id must be/, undefined],
    ['{"t":"req","id":""}', /id must be/, undefined],
    ['{"t":"sub","id":"x"}', /ch must be/, 'x'],
    [`{"t":"sub","id":"x","ch":"${'c'.repeat(MAX_CHANNEL_LENGTH + 1)}"}`, /ch must be/, 'x'],
    ['{"t":"sub","id":"x","ch":"a","pos":{"offset":-1,"epoch":"e"}}', /pos must be/, 'x'],
    ['{"t":"sub","id":"x","ch":"a","pos":{"offset":1.5,"epoch":"e"}}', /pos must be/, 'x'],
    ['{"t":"sub","id":"x","ch":"a","pos":{"offset":1}}', /pos must be/, 'x'],
  ];
  for (const [text, message, id] of cases) {
    const f = parseClientFrame(text);
    assert.ok(isBadFrame(f), text);
    assert.match(f.bad, message, text);
    assert.equal(f.id, id, text);
  }
});

test('parseServerFrame reads the doc example and refuses frames missing what a client relies on', () => {
  const lines = [
    '{"t":"welcome","v":1,"cid":"7","user":"o6_bmjrPTlm6_2sgVt7hMZOPfL2M","ping":25000}',
    '{"t":"pub","ch":"news","offset":42,"epoch":"q1w2","data":{"title":"…"}}',
    '{"t":"ack","id":"k2f9-1","data":{"ch":"news","offset":42,"epoch":"q1w2","recovered":true}}',
    '{"t":"ack","id":"k2f9-2","data":"tom"}',
  ];
  for (const l of lines) assert.deepEqual(parseServerFrame(l), JSON.parse(l));
  assert.equal(parseServerFrame('{"t":"pub","ch":"news","offset":0,"epoch":"e"}'), undefined);
  assert.equal(parseServerFrame('{"t":"ack"}'), undefined);
  assert.equal(parseServerFrame('{"type":"pong"}'), undefined);
  assert.equal(parseServerFrame('nope'), undefined);
  assert.equal(encodeFrame({ t: 'msg', data: 1 }), '{"t":"msg","data":1}');
});

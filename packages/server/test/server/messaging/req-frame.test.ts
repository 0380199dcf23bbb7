// The canonical-request scanner against the general parser: whatever it recognises must read as
// the same id and data; whatever it does not goes to the general parser, which then decides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_ID_LENGTH, parseClientFrame, isBadFrame } from '@wss-mp/protocol';
import { scanRequest, type ScannedRequest } from '../../../src/server/messaging/req-frame';

function scan(text: string): ScannedRequest | undefined {
  const out: ScannedRequest = { id: '', data: undefined };
  return scanRequest(Buffer.from(text), out) ? out : undefined;
}

/** Recognised frames read exactly as the general parser reads them. */
function agrees(text: string): void {
  const s = scan(text);
  assert.ok(s, `recognised: ${text}`);
  const f = parseClientFrame(text);
  assert.ok(!isBadFrame(f) && f.t === 'req', text);
  assert.equal(s.id, f.id, text);
  assert.deepEqual(s.data, f.data, text);
}

test('the canonical frame: every JSON data type, unicode and escapes inside data, ids up to the limit', () => {
  const id64 = 'x'.repeat(MAX_ID_LENGTH);
  for (const data of ['"tom"', '""', '"q\\"uo\\\\te\\n\\u2028\\ud83d\\ude00"', '"汉字 🙂"', '0', '-1.5e3', '1e400', '12345678901234567890',
    'null', 'true', 'false', '[]', '[1,{"a":[null]}]', '{}', '{"a":{"b":"}"}}', '{"t":"sub","id":"y"}', ' 7 ', '\n"ws"\t']) {
    agrees(`{"t":"req","id":"k2f9-7","data":${data}}`);
  }
  agrees(`{"t":"req","id":"${id64}","data":1}`);
  agrees('{"t":"req","id":"a","data":0}');
  agrees('{"t":"req","id":" !#$%&\'()*+,-./:;<=>?@[]^_`{|}~","data":1}');
  assert.equal(scan('{"t":"req","id":"12.0000000001","data":"aaaa"}')?.id, '12.0000000001');
});

test('everything else is left to the general parser (not recognised): key order, spaces, escapes, extra and duplicate keys, bad JSON', () => {
  const others = [
    '{"id":"a","t":"req","data":1}', // another key order
    '{"t":"req","data":1,"id":"a"}',
    '{ "t":"req","id":"a","data":1}', // spaces around keys
    '{"t":"req","id":"a","data":1} ', // after the closing brace
    '{"t":"req","id":"a", "data":1}',
    '{"t":"req","id":"a\\"b","data":1}', // an escape in the id: its text is not the id
    '{"t":"req","id":"a\\u0062","data":1}',
    '{"t":"req","id":"é","data":1}', // non-ASCII in the id
    '{"t":"req","id":"\u007f","data":1}',
    '{"t":"req","id":"a","data":1,"extra":true}', // an extra key after data
    '{"t":"req","id":"a","data":1,"id":"b"}', // a duplicate key: JSON.parse keeps the last
    '{"t":"req","id":"a","data":1,"t":"sub"}',
    '{"t":"req","id":"a","data":{"x":1},"data":2}',
    '{"t":"req","id":"","data":1}', // empty id
    `{"t":"req","id":"${'x'.repeat(MAX_ID_LENGTH + 1)}","data":1}`, // longer than the limit
    '{"t":"req","id":"a","data":}', // no value
    '{"t":"req","id":"a","data":1', // no closing brace
    '{"t":"req","id":"a","data":{"x":1}', // the brace is data's
    '{"t":"req","id":"a","data":"x"}}',
    '{"t":"req","id":"a","data":[1,]}', // invalid JSON
    '{"t":"req","id":"a","data":undefined}',
    '{"t":"req","id":"a"}', // no data
    '{"t":"req","id":12,"data":1}', // a number id
    '{"t":"sub","id":"a","ch":"news"}', // other frame types
    '{"t":"unsub","id":"a","ch":"news"}',
    'not json',
  ];
  for (const text of others) assert.equal(scan(text), undefined, text);
  // And what the general parser makes of some of them is what the server answers, as before.
  assert.deepEqual(parseClientFrame('{"t":"req","id":"a","data":1,"id":"b"}'), { t: 'req', id: 'b', data: 1 });
  assert.deepEqual(parseClientFrame('{"t":"req","id":"a","data":1,"extra":true}'), { t: 'req', id: 'a', data: 1 });
  assert.match((parseClientFrame('{"t":"req","id":12,"data":1}') as { bad: string }).bad, /id must be/);
  assert.match((parseClientFrame('{"t":"req","id":"a","data":}') as { bad: string }).bad, /not JSON/);
});

test('a recognised frame leaves nothing from an earlier one behind; an unrecognised one leaves `out` untouched', () => {
  const out: ScannedRequest = { id: 'old', data: 'old' };
  assert.equal(scanRequest(Buffer.from('{"t":"req","id":"a","data":[1,]}'), out), false);
  assert.deepEqual(out, { id: 'old', data: 'old' });
  assert.equal(scanRequest(Buffer.from('{"t":"req","id":"b","data":null}'), out), true);
  assert.deepEqual(out, { id: 'b', data: null });
});

test('deeply nested data reads as the general parser reads it', () => {
  const depth = 100_000;
  const deep = `{"t":"req","id":"d","data":${'['.repeat(depth)}${']'.repeat(depth)}}`;
  const f = parseClientFrame(deep);
  const s = scan(deep);
  const levels = (v: unknown) => {
    let n = 0;
    for (let x = v; Array.isArray(x); x = x[0]) n++;
    return n;
  };
  if (isBadFrame(f)) assert.equal(s, undefined);
  else assert.equal(levels(s?.data), levels(f.t === 'req' ? f.data : undefined));
});

// The README's messaging sections document every messaging option with its default, every event
// and every error code: checked against MESSAGING_DEFAULTS and the source, so they cannot drift.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { leadingCode as code, sectionTableRows } from '../../../test/support/markdown';
import { MESSAGING_DEFAULTS } from '../src/messaging';
import { PACKAGE } from './sandbox';

const readme = readFileSync(path.join(PACKAGE, 'README.md'), 'utf8');
const table = (heading: string) => sectionTableRows(readme, heading);

test('README messaging options table = MESSAGING_DEFAULTS (names and values), plus token and storage', () => {
  const rows = table('Messaging options');
  const names = rows.map((r) => code(r[0]!));
  assert.deepEqual(names.filter((n) => n !== 'token' && n !== 'storage').sort(), Object.keys(MESSAGING_DEFAULTS).sort());
  assert.ok(names.includes('token') && names.includes('storage'));
  for (const [c0, c1] of rows) {
    const name = code(c0!)!;
    if (name === 'token' || name === 'storage') {
      assert.match(c1!, /^— /);
      continue;
    }
    const doc = code(c1!)!;
    assert.deepEqual(JSON.parse(doc.replace(/^'(.*)'$/, (_, s: string) => JSON.stringify(s))), (MESSAGING_DEFAULTS as Record<string, unknown>)[name], name);
  }
});

test('README messaging error table lists every MessagingErrorCode of src/messaging/errors.ts', () => {
  const src = readFileSync(path.join(PACKAGE, 'src/messaging/errors.ts'), 'utf8');
  const codes = [...src.matchAll(/\| '(ERR_[A-Z_]+)'/g)].map((m) => m[1]).sort();
  assert.ok(codes.length >= 8);
  assert.deepEqual(table('Messaging error codes').map((r) => code(r[0]!)).sort(), codes);
});

test('README messaging events table lists every event of MessagingEvents', () => {
  const src = readFileSync(path.join(PACKAGE, 'src/messaging/client.ts'), 'utf8');
  const body = /export interface MessagingEvents \{([\s\S]*?)\n\}/.exec(src)![1]!;
  const events = [...body.matchAll(/^  (\w+): /gm)].map((m) => m[1]).sort();
  assert.deepEqual(table('Messaging events').map((r) => code(r[0]!)).sort(), events);
});

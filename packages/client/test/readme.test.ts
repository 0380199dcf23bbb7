// README.md documents every option with its default, every event and every error code: checked
// against the exported defaults object and the source, so the docs cannot drift.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { firstTableRows, leadingCode as code, sectionTableRows } from '../../../test/support/markdown';
import { CLIENT_DEFAULTS } from '../src/index';
import { PACKAGE } from './sandbox';

const readme = readFileSync(path.join(PACKAGE, 'README.md'), 'utf8');

const table = (heading: string) => sectionTableRows(readme, heading);

test('README options table = CLIENT_DEFAULTS (names and values), plus url and platform', () => {
  const rows = table('Options');
  const names = rows.map((r) => code(r[0]!));
  assert.deepEqual(names.filter((n) => n !== 'url' && n !== 'platform').sort(), Object.keys(CLIENT_DEFAULTS).sort());
  assert.ok(names.includes('url') && names.includes('platform'));
  for (const [cell0, cell1] of rows) {
    const name = code(cell0!)!;
    if (name === 'url' || name === 'platform') {
      assert.match(cell1!, /^— /);
      continue;
    }
    const want = (CLIENT_DEFAULTS as Record<string, unknown>)[name];
    const doc = code(cell1!);
    assert.ok(doc, `${name}: default cell "${cell1}" has no code`);
    if (typeof want === 'function') {
      if (want === Math.random) assert.equal(doc, 'Math.random');
      else assert.equal(doc, (want as Function).name, name);
    } else if (name === 'clock') {
      assert.equal(doc, 'hostClock');
      const c = want as { now(): number };
      assert.ok(Math.abs(c.now() - Date.now()) < 1000);
    } else if (doc === 'Infinity') assert.equal(want, Infinity, name);
    else assert.deepEqual(JSON.parse(doc.replace(/^'(.*)'$/, (_, s: string) => JSON.stringify(s))), want, name);
  }
});

test('docs/errors.md lists every SocketErrorCode of src/errors.ts', () => {
  const src = readFileSync(path.join(PACKAGE, 'src/errors.ts'), 'utf8');
  const codes = [...src.matchAll(/\| '(ERR_[A-Z_]+)'/g)].map((m) => m[1]).sort();
  assert.ok(codes.length >= 8);
  // The one copy of the error table, for both packages, is docs/errors.md.
  const errors = readFileSync(path.join(PACKAGE, '../../docs/errors.md'), 'utf8');
  const rows = firstTableRows(errors.slice(errors.indexOf('\n## Error codes\n')));
  assert.deepEqual(rows.filter((r) => r[1] === 'client').map((r) => code(r[0]!)).sort(), codes);
});

test('README events table lists every event', () => {
  assert.deepEqual(table('Events').map((r) => code(r[0]!)).sort(), ['close', 'error', 'message', 'open', 'reconnecting', 'state']);
});

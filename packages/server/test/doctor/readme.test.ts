// The doctor's docs list every check id and the defaults the code uses (docs drift otherwise).
// One copy each: the checks, the example run and the exit codes in docs/troubleshooting.md; the
// flags and the API in the package README's "## doctor".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHECK_IDS, DOCTOR_DEFAULTS } from '../../src/doctor/types';
import { USAGE } from '../../src/cli/doctor';

const here = path.dirname(fileURLToPath(import.meta.url));
const GUIDE = path.resolve(here, '../../../../docs/troubleshooting.md');
const PKG_README = path.resolve(here, '../../README.md');

function section(text: string, start: RegExp, end: RegExp): string {
  const m = start.exec(text);
  assert.ok(m, `missing ${start}`);
  const rest = text.slice(m.index + m[0].length);
  const e = end.exec(rest);
  return e ? rest.slice(0, e.index) : rest;
}

const guide = section(readFileSync(GUIDE, 'utf8'), /^## The doctor: `wss-mp-server doctor`$/m, /^## (?!#)/m);
const pkg = section(readFileSync(PKG_README, 'utf8'), /^## doctor$/m, /^## (?!#)/m);

test('docs/troubleshooting.md documents every check, the expiry threshold and the exit codes', () => {
  for (const id of CHECK_IDS) assert.ok(guide.includes(`\`${id}\``), `check \`${id}\` is not documented`);
  assert.ok(guide.includes(`${DOCTOR_DEFAULTS.expiryWarnDays} days`), 'expiry warning threshold');
  for (const code of ['`0`', '`1`', '`2`', '`3`']) assert.ok(guide.includes(code), `exit code ${code}`);
});

// The flag table itself (names and defaults) is checked against the flag grammar in test/cli/readme.test.ts.
test('the package README ## doctor documents the exit codes', () => {
  for (const code of ['`0`', '`1`', '`2`', '`3`']) assert.ok(pkg.includes(code), `exit code ${code}`);
});

test('--help and the package README agree on the flags', () => {
  for (const opt of ['--ca', '--resolve', '--echo', '--timeout', '--json']) {
    assert.ok(USAGE.includes(opt), `--help lacks ${opt}`);
    assert.ok(pkg.includes(`\`${opt}`), `README lacks ${opt}`);
  }
});

// The doctor's docs list every check id and the defaults the code uses (docs drift otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHECK_IDS, DOCTOR_DEFAULTS } from '../../src/doctor/types';
import { USAGE } from '../../src/cli/doctor';
import { formatDuration } from '../../src/shared/units';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT_README = path.resolve(here, '../../../../README.md');
const PKG_README = path.resolve(here, '../../README.md');

function section(text: string, start: RegExp, end: RegExp): string {
  const m = start.exec(text);
  assert.ok(m, `missing ${start}`);
  const rest = text.slice(m.index + m[0].length);
  const e = end.exec(rest);
  return e ? rest.slice(0, e.index) : rest;
}

/** The root README says the defaults in words; the package README's flag table is checked in test/cli/readme.test.ts. */
function assertDocumented(doc: string, where: string, defaultsInWords = true) {
  for (const id of CHECK_IDS) assert.ok(doc.includes(`\`${id}\``), `${where}: check \`${id}\` is not documented`);
  if (defaultsInWords) {
    assert.ok(doc.includes(`Default ${formatDuration(DOCTOR_DEFAULTS.timeoutMs)}`), `${where}: --timeout default`);
    assert.ok(doc.includes(`\`${DOCTOR_DEFAULTS.echo}\``), `${where}: --echo default`);
  }
  assert.ok(doc.includes(`${DOCTOR_DEFAULTS.expiryWarnDays} days`), `${where}: expiry warning threshold`);
  for (const code of ['`0`', '`1`', '`2`', '`3`']) assert.ok(doc.includes(code), `${where}: exit code ${code}`);
}

test('root README doctor section documents every check, default and exit code', () => {
  const doc = section(readFileSync(ROOT_README, 'utf8'), /<!-- section: doctor \(owner: doctor\) -->/, /<!-- \/section -->/);
  assertDocumented(doc, 'README.md');
});

test('package README ## doctor section documents every check, default and exit code', () => {
  const text = readFileSync(PKG_README, 'utf8');
  assertDocumented(section(text, /^## doctor$/m, /^## (?!#)/m), 'packages/server/README.md', false);
});

test('--help and the docs agree on the options', () => {
  const doc = readFileSync(ROOT_README, 'utf8');
  for (const opt of ['--ca', '--resolve', '--echo', '--timeout', '--json']) {
    assert.ok(USAGE.includes(opt), `--help lacks ${opt}`);
    assert.ok(doc.includes(`\`${opt}`), `README lacks ${opt}`);
  }
});

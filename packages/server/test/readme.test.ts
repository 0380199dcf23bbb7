// The README is part of the interface: its tables must match the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_DEFAULTS } from '../src/options';
import { CLI_FLAGS } from '../src/serve-cli';
import { ERROR_CODES } from '../src/errors';
import { firstTableRows } from '../../../test/support/markdown';

const here = path.dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(path.join(here, '..', 'README.md'), 'utf8');

/** Rows of the first table after `heading`, as trimmed cells. */
function table(heading: string): string[][] {
  const start = readme.indexOf(heading);
  assert.ok(start !== -1, `README has "${heading}"`);
  return firstTableRows(readme.slice(start));
}

test('README options table matches SERVER_DEFAULTS', () => {
  const rows = new Map(table('### `createServer(options?)').map((r) => [r[0]!.replace(/`/g, ''), r[1]!]));
  for (const [key, value] of Object.entries(SERVER_DEFAULTS)) {
    const row = key === 'plainHost' ? 'host' : key;
    const cell = rows.get(row);
    assert.ok(cell !== undefined, `README documents option ${row}`);
    assert.ok(cell.includes('`' + JSON.stringify(value) + '`'), `${row}: README says ${cell}, code says ${JSON.stringify(value)}`);
  }
  // And every documented default that looks like a value exists in the code.
  for (const [name, cell] of rows) {
    const m = /^`([^`]+)`/.exec(cell);
    if (!m) continue;
    const key = name === 'host' ? 'plainHost' : name;
    assert.ok(key in SERVER_DEFAULTS, `README default for ${name} but no SERVER_DEFAULTS.${key}`);
  }
});

test('README CLI table lists every flag with the default --help prints, and nothing else', () => {
  const rows = table('## CLI');
  const documented = new Map<string, string>();
  for (const r of rows) {
    const m = /^`--([a-z0-9-]+)/.exec(r[0]!);
    assert.ok(m, `flag cell ${r[0]}`);
    documented.set(m[1]!, r[1]!);
  }
  for (const f of CLI_FLAGS) {
    assert.equal(documented.get(f.name), f.default, `--${f.name} default`);
    const cell = rows.find((r) => r[0]!.startsWith('`--' + f.name + (f.arg ? ' ' + f.arg : '') + '`'));
    assert.ok(cell, `--${f.name}${f.arg ? ' ' + f.arg : ''} spelled as in --help`);
    if (f.short) assert.ok(cell![0]!.includes('`-' + f.short + '`'), `-${f.short} documented`);
  }
  assert.deepEqual([...documented.keys()].sort(), CLI_FLAGS.map((f) => f.name).sort());
});

test('README error table lists every error code', () => {
  const codes = table('## Error codes').map((r) => r[0]!.replace(/`/g, ''));
  assert.deepEqual(codes.sort(), [...ERROR_CODES].sort());
});

test('README log table lists every event the code logs', () => {
  const events = new Set(table('## Logs').map((r) => r[0]!.replace(/`/g, '')));
  const src = path.join(here, '..', 'src');
  const logged = new Set<string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (e.name !== 'doctor' && e.name !== 'proxy-config') walk(path.join(d, e.name));
      } else if (e.name.endsWith('.ts')) {
        for (const m of readFileSync(path.join(d, e.name), 'utf8').matchAll(/log\.(?:info|warn|error)\('([a-z-]+)'/g)) logged.add(m[1]!);
      }
    }
  };
  walk(src);
  assert.ok(logged.size > 10);
  for (const e of logged) assert.ok(events.has(e), `README documents log event "${e}"`);
  for (const e of events) assert.ok(logged.has(e), `README documents "${e}" but the code never logs it`);
});

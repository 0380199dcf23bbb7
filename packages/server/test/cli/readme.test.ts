// One flag table per subcommand (src/cli/*.ts) is the source of --help and of the package
// README's flag tables: every flag, spelled as in --help, with the default --help prints, and
// nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstTableRows } from '../../../../test/support/markdown';
import { DOCTOR } from '../../src/cli/doctor';
import { flagLabel, helpText, type Command } from '../../src/cli/flags';
import { PROXY_CONFIG } from '../../src/cli/proxy-config';
import { SERVE } from '../../src/cli/serve';

const here = path.dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(path.join(here, '../../README.md'), 'utf8');

/** The flag table (header `| flag | default | meaning |`) of the section starting at `heading`. */
function flagRows(heading: RegExp): string[][] {
  const m = heading.exec(readme);
  assert.ok(m, `README has ${heading}`);
  const rest = readme.slice(m.index);
  const at = rest.indexOf('| flag | default | meaning |');
  assert.ok(at !== -1, `${heading}: a "| flag | default | meaning |" table`);
  return firstTableRows(rest.slice(at));
}

const COMMANDS: Array<[Command, RegExp]> = [
  [SERVE, /^## CLI$/m],
  [DOCTOR, /^## doctor$/m],
  [PROXY_CONFIG, /^## proxy-config$/m],
];

for (const [cmd, heading] of COMMANDS) {
  test(`${cmd.invocation}: the README flag table equals the command's flag table`, () => {
    const rows = flagRows(heading);
    const documented = new Map<string, { label: string; short?: string; def: string }>();
    for (const r of rows) {
      const m = /^`(--([a-z0-9-]+)[^`]*)`(?:, `-([a-zA-Z])`)?$/.exec(r[0]!);
      assert.ok(m, `${cmd.invocation}: flag cell ${r[0]} reads \`--name ARG\`[, \`-x\`]`);
      documented.set(m[2]!, { label: m[1]!, short: m[3], def: r[1]! });
    }
    for (const f of cmd.flags) {
      const d = documented.get(f.name);
      assert.ok(d, `${cmd.invocation}: README documents --${f.name}`);
      assert.equal(d.label, flagLabel(f), `--${f.name} spelled as in --help`);
      assert.equal(d.short, f.short, `--${f.name} short form`);
      assert.equal(d.def, f.default, `--${f.name} default`);
    }
    assert.deepEqual([...documented.keys()].sort(), cmd.flags.map((f) => f.name).sort(), `${cmd.invocation}: no extra rows`);
  });

  test(`${cmd.invocation} --help lists every flag with its default, and the unit grammar it uses`, () => {
    const help = helpText(cmd);
    for (const f of cmd.flags) {
      assert.ok(help.includes(flagLabel(f)), `${flagLabel(f)} in --help`);
      if (f.default !== '-') assert.ok(help.includes(`[${f.default}]`), `--${f.name} default in --help`);
    }
    const hasDurations = cmd.flags.some((f) => f.kind === 'duration');
    assert.equal(help.includes('Durations take a unit: 500ms, 25s, 5m, 1h'), hasDurations);
  });
}

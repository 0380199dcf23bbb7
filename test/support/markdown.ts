// Reading the Markdown tables the READMEs document options, flags, events and error codes in
// (the packages' readme tests check them against the code). Only node's string functions and
// node:assert, so a package's unit tests can import it without pulling in anything else.
import assert from 'node:assert/strict';

/**
 * Rows of the first table in `text` (header and separator skipped), as trimmed cell texts; an
 * escaped `\|` stays inside its cell. Empty when `text` has no table.
 */
export function firstTableRows(text: string): string[][] {
  const lines = text.split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const l of lines.slice(first + 2)) {
    if (!l.startsWith('|')) break;
    rows.push(l.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
  }
  return rows;
}

/** Rows of the first table after the `## heading` line of a README (asserted to be there). */
export function sectionTableRows(readme: string, heading: string): string[][] {
  const start = readme.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README has no "## ${heading}"`);
  return firstTableRows(readme.slice(start));
}

/** The code span a table cell starts with (`` `x` … `` → x), if any. */
export const leadingCode = (cell: string) => /^`([^`]+)`/.exec(cell)?.[1];

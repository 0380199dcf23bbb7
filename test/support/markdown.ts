// Reading the Markdown tables the READMEs document options, flags, events and error codes in
// (the packages' readme tests check them against the code). Only node's string functions, so a
// package's unit tests can import it without pulling in anything else.

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

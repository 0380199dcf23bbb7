/**
 * The one flag grammar of every subcommand (`wss-mp-server [serve]`, `doctor`,
 * `proxy-config`): each declares a table of flags; parsing, value checking (durations and
 * sizes with units, counts, ports) and `--help` all come from that table, and a test keeps
 * the README's flag tables equal to them.
 */
import { parseArgs } from 'node:util';
import { OptionError } from '../common/errors';
import { parseCount, parseDuration, parseSize } from '../common/units';

/** How a flag's value is read. `text` is taken as is. */
export type FlagKind = 'switch' | 'text' | 'duration' | 'size' | 'count' | 'port';

export interface Flag {
  /** Long name, without `--`. */
  name: string;
  short?: string;
  kind: FlagKind;
  /** Placeholder shown after the flag (`FILE`, `DURATION`); none for switches. */
  arg?: string;
  /** May be given more than once (values collected in order). */
  multiple?: boolean;
  /** Default as --help and the README show it; `-` for none. */
  default: string;
  help: string;
}

export interface Command {
  /** How it is invoked, e.g. `wss-mp-server doctor`. */
  invocation: string;
  /** One line: what it does. */
  summary: string;
  usage: readonly string[];
  /** Paragraph(s) after the usage lines. */
  about?: readonly string[];
  flags: readonly Flag[];
  /** Lines after the flags (exit codes, examples). */
  footer?: readonly string[];
}

export type FlagValue = string | number | boolean | string[];
export interface ParsedFlags {
  /** By flag name: numbers for durations (ms), sizes (bytes), counts and ports. */
  values: Record<string, FlagValue | undefined>;
  positionals: string[];
}

/** `--name ARG` as in --help and the README tables. */
export function flagLabel(f: Flag): string {
  return `--${f.name}${f.arg ? ` ${f.arg}` : ''}`;
}

function convert(f: Flag, raw: string): FlagValue {
  const option = `--${f.name}`;
  switch (f.kind) {
    case 'duration':
      return parseDuration(option, raw);
    case 'size':
      return parseSize(option, raw);
    case 'count':
      return parseCount(option, raw);
    case 'port':
      return parseCount(option, raw, 65535);
    default:
      return raw;
  }
}

/** Parses argv against the table. Throws OptionError naming the flag for every kind of mistake. */
export function parseFlags(cmd: Command, argv: string[], allowPositionals = false): ParsedFlags {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals,
      options: Object.fromEntries(cmd.flags.map((f) => [f.name, {
        type: f.kind === 'switch' ? 'boolean' : 'string',
        ...(f.short ? { short: f.short } : {}),
        ...(f.multiple ? { multiple: true } : {}),
      }] as const)),
    });
  } catch (err) {
    throw parseArgsError(cmd, err as Error & { code?: string });
  }
  const values: ParsedFlags['values'] = {};
  for (const f of cmd.flags) {
    const v = (parsed.values as Record<string, string | boolean | string[] | undefined>)[f.name];
    if (v === undefined || typeof v === 'boolean') values[f.name] = v;
    else if (Array.isArray(v)) values[f.name] = v; // repeatable flags are text
    else values[f.name] = convert(f, v);
  }
  return { values, positionals: parsed.positionals };
}

/** node's parseArgs errors, as OptionErrors naming the flag. */
function parseArgsError(cmd: Command, e: Error & { code?: string }): OptionError {
  // node quotes the flag as '--name', '-p, --port <value>' or '-x': name it by its long form.
  const quoted = /'([^']*)'/.exec(e.message)?.[1] ?? '';
  const name = /--[A-Za-z0-9-]+/.exec(quoted)?.[0] ?? /-[A-Za-z0-9]/.exec(quoted)?.[0] ?? '<argument>';
  const known = cmd.flags.map((f) => `--${f.name}`).join(', ');
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const f = cmd.flags.find((x) => name === `--${x.name}` || name === `-${x.short}`);
    return f?.kind === 'switch'
      ? new OptionError(name, 'no value (it is a switch)', e.message)
      : new OptionError(name, `a value after it${f?.arg ? ` (${f.arg})` : ''}`, undefined);
  }
  if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const got = /'([^']*)'/.exec(e.message)?.[1];
    return new OptionError('<argument>', `flags only (${known})`, got ?? e.message);
  }
  return new OptionError(name, `one of ${known}`, name);
}

/** --help text: summary, usage, about, the flag table with defaults, footer. */
export function helpText(cmd: Command): string {
  const left = cmd.flags.map((f) => `  ${f.short ? `-${f.short}, ` : '    '}${flagLabel(f)}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  const rows = cmd.flags.map((f, i) => {
    const def = f.default === '-' ? '' : ` [${f.default}]`;
    return `${left[i]!.padEnd(width)}${f.help}${def}`;
  });
  return [
    `${cmd.invocation}: ${cmd.summary}`,
    '',
    'Usage:',
    ...cmd.usage.map((u) => `  ${u}`),
    ...(cmd.about?.length ? ['', ...cmd.about] : []),
    '',
    'Flags [default]:',
    ...rows,
    '',
    ...unitLines(cmd.flags),
    ...(cmd.footer?.length ? ['', ...cmd.footer] : []),
    '',
  ].join('\n');
}

/** The value grammar, for the kinds this command has. */
function unitLines(flags: readonly Flag[]): string[] {
  const lines: string[] = [];
  if (flags.some((f) => f.kind === 'duration')) lines.push('Durations take a unit: 500ms, 25s, 5m, 1h (a bare number is refused, except 0).');
  if (flags.some((f) => f.kind === 'size')) lines.push('Sizes take a unit: 512B, 64KiB, 1MiB (a bare number is refused).');
  return lines;
}

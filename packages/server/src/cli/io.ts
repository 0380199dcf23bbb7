/**
 * What the subcommands (`doctor`, `proxy-config`) share: where they write, how they parse argv
 * and how a usage error reads (`wss-mp-server <command>: <message>`, then a pointer to --help).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Where a subcommand writes: `process` from the CLI, string captures in tests. */
export interface CliIo {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown };
}

/** Exit code for bad input: a usage error or an invalid option. */
export const EXIT_USAGE = 2;

/** node's parseArgs as the subcommands use it: strict, positionals allowed. Throws its errors as is. */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  return parseArgs({ args: argv, allowPositionals: true, strict: true, options });
}

/** Writes `wss-mp-server <command>: <message>` to stderr and, with `hint`, how to get --help. */
export function writeCliError(io: Pick<CliIo, 'stderr'>, command: string, message: string, hint = true): void {
  io.stderr.write(`wss-mp-server ${command}: ${message}\n`);
  if (hint) io.stderr.write(`Run "wss-mp-server ${command} --help" for usage.\n`);
}

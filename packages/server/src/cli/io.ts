/**
 * What the subcommands share: where they write, and how a usage error reads
 * (`wss-mp-server [<command>]: <message>`, then a pointer to --help). Parsing: flags.ts.
 */
/** Where a subcommand writes: `process` from the CLI, string captures in tests. */
export interface CliIo {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown };
}

/** Exit code for bad input: a usage error or an invalid option. */
export const EXIT_USAGE = 2;

/** Writes `wss-mp-server [<command>]: <message>` to stderr and, with `hint`, how to get --help. */
export function writeCliError(io: Pick<CliIo, 'stderr'>, command: string, message: string, hint = true): void {
  const cmd = command ? `wss-mp-server ${command}` : 'wss-mp-server';
  io.stderr.write(`${cmd}: ${message}\n`);
  if (hint) io.stderr.write(`Run "${cmd} --help" for usage.\n`);
}

/**
 * `wss-mp-server doctor <url> [--ca FILE] [--resolve HOST:PORT:ADDRESS] [--echo TEXT]
 * [--timeout S] [--json]`. Exit codes: 0 no FAIL, 1 at least one FAIL, 2 bad input, 3 internal error.
 */
import { readFileSync } from 'node:fs';
import { EXIT_USAGE, parseCommandArgs, writeCliError, type CliIo } from '../cli-util';
import { OptionError, WssMpServerError } from '../errors';
import { runDoctor } from './run';
import { renderReport } from './render';
import { parseTarget, parseResolve } from './target';
import { loadCa } from './ca';
import type { DoctorOptions } from './types';

export const EXIT = { OK: 0, FAIL: 1, USAGE: EXIT_USAGE, INTERNAL: 3 } as const;

export const USAGE = `Usage: wss-mp-server doctor <wss-url> [options]

Checks whether a WeChat mini program can connect to a wss:// endpoint: URL, TLS versions and
suites (iOS ATS), certificate chain, name, expiry, key and signature, ALPN, the WebSocket
upgrade on the exact path and an echo round trip. Each check prints PASS, WARN, FAIL or INFO
with a one-line fix.

Options:
  --ca FILE                 also trust the root certificate(s) in FILE (PEM), e.g. a test CA
  --resolve HOST:PORT:ADDR  connect to ADDR instead of resolving HOST (like curl); SNI and the
                            certificate check still use HOST. Repeatable; must match the URL
  --echo TEXT               message sent after the upgrade; its echo or {"type":"pong"} passes
                            (default {"type":"ping"})
  --timeout S               seconds allowed for each network step, however slowly the server
                            answers (default 10); the whole run stops after 4 × S
  --json                    print the report as JSON (schema in the package README)
  -h, --help                show this help

Exit codes: 0 no FAIL, 1 at least one FAIL, 2 bad input, 3 internal error.
Example: wss-mp-server doctor wss://wss.example.com/wss
`;

const KNOWN = '--ca, --resolve, --echo, --timeout, --json, --help';

/** Turns argv into runDoctor arguments; throws OptionError naming the bad option. */
export function parseDoctorArgs(argv: string[]): { help: true } | { help: false; url: string; json: boolean; options: DoctorOptions } {
  let parsed;
  try {
    parsed = parseCommandArgs(argv, {
      ca: { type: 'string' },
      resolve: { type: 'string', multiple: true },
      echo: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    const name = /'(-[^' ]+)/.exec(e.message)?.[1] ?? '<argument>';
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new OptionError(name, 'a value after it', undefined);
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new OptionError(name, `one of ${KNOWN}`, name);
    throw new OptionError(name, `one of ${KNOWN}`, e.message);
  }
  const v = parsed.values;
  if (v.help) return { help: true };
  const [url, ...extra] = parsed.positionals;
  if (!url) throw new OptionError('<url>', 'a wss:// URL, e.g. wss://example.com/wss', undefined);
  if (extra.length) throw new OptionError('<url>', 'exactly one URL', `${parsed.positionals.length} arguments`);
  const target = parseTarget(url);
  const options: DoctorOptions = {};
  if (v.timeout !== undefined) {
    const s = Number(v.timeout);
    if (!(v.timeout.trim() !== '' && Number.isFinite(s) && s > 0 && s <= 600)) {
      throw new OptionError('--timeout', 'a number of seconds above 0 and at most 600', v.timeout);
    }
    options.timeoutMs = Math.round(s * 1000);
  }
  if (v.echo !== undefined) {
    if (v.echo === '') throw new OptionError('--echo', 'a non-empty message', v.echo);
    options.echo = v.echo;
  }
  if (v.resolve?.length) {
    const matching = v.resolve.map((spec) => {
      try {
        return parseResolve(spec, target);
      } catch (err) {
        return err as OptionError;
      }
    });
    const ok = matching.find((m) => typeof m === 'string');
    if (ok === undefined) throw matching[0] as OptionError;
    options.connectTo = ok as string;
  }
  if (v.ca !== undefined) {
    let pem: string;
    try {
      pem = readFileSync(v.ca, 'utf8');
    } catch (err) {
      throw new OptionError('--ca', `a readable PEM file (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`, v.ca);
    }
    loadCa(pem, '--ca');
    options.ca = pem;
  }
  return { help: false, url, json: !!v.json, options };
}

export async function main(argv: string[], io: CliIo = process): Promise<number> {
  const wantsJson = argv.includes('--json');
  let args: ReturnType<typeof parseDoctorArgs>;
  try {
    args = parseDoctorArgs(argv);
  } catch (err) {
    return reportError(err, wantsJson, io);
  }
  if (args.help) {
    io.stdout.write(USAGE);
    return EXIT.OK;
  }
  try {
    const report = await runDoctor(args.url, args.options);
    if (args.json) io.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else io.stdout.write(renderReport(report, { color: !!io.stdout.isTTY && !process.env.NO_COLOR }));
    return report.ok ? EXIT.OK : EXIT.FAIL;
  } catch (err) {
    return reportError(err, args.json, io);
  }
}

function reportError(err: unknown, json: boolean, io: CliIo): number {
  const known = err instanceof WssMpServerError;
  const code = known ? err.code : 'ERR_INTERNAL';
  const message = err instanceof Error ? err.message : String(err);
  const option = err instanceof OptionError ? err.option : undefined;
  if (json) io.stdout.write(JSON.stringify({ error: { code, message, option } }, null, 2) + '\n');
  writeCliError(io, 'doctor', message, known);
  if (!known && err instanceof Error && err.stack) io.stderr.write(err.stack + '\n');
  return known ? EXIT.USAGE : EXIT.INTERNAL;
}

/**
 * `wss-mp-server doctor <url> [--ca FILE] [--resolve HOST:PORT:ADDRESS] [--echo TEXT]
 * [--timeout DURATION] [--json]`. Exit codes: 0 no FAIL, 1 at least one FAIL, 2 bad input, 3 internal error.
 */
import { readFileSync } from 'node:fs';
import { EXIT_USAGE, writeCliError, type CliIo } from './io';
import { OptionError, WssMpServerError } from '../common/errors';
import { formatDuration } from '../common/units';
import { runDoctor } from '../doctor/run';
import { renderReport } from '../doctor/render';
import { parseTarget, parseResolve } from '../doctor/target';
import { loadCa } from '../doctor/ca';
import { DOCTOR_DEFAULTS, type DoctorOptions } from '../doctor/types';
import { helpText, parseFlags, type Command } from './flags';

export const EXIT = { OK: 0, FAIL: 1, USAGE: EXIT_USAGE, INTERNAL: 3 } as const;

/** Longest --timeout: each network step waits at most this long. */
const MAX_TIMEOUT_MS = 600_000;

export const DOCTOR: Command = {
  invocation: 'wss-mp-server doctor',
  summary: 'can a WeChat mini program connect to this wss:// endpoint?',
  usage: ['wss-mp-server doctor <wss-url> [flags]'],
  about: [
    'Checks the URL, TLS versions and suites (iOS ATS), certificate chain, name, expiry, key and',
    'signature, ALPN, the WebSocket upgrade on the exact path and an echo round trip. Each check',
    'prints PASS, WARN, FAIL or INFO with a one-line fix.',
  ],
  flags: [
    { name: 'ca', kind: 'text', arg: 'FILE', default: '-', help: 'also trust the root certificate(s) in FILE (PEM), e.g. a test CA' },
    { name: 'resolve', kind: 'text', arg: 'HOST:PORT:ADDR', multiple: true, default: '-', help: 'connect to ADDR instead of resolving HOST (like curl); SNI and the certificate check still use HOST. Repeatable; must match the URL' },
    { name: 'echo', kind: 'text', arg: 'TEXT', default: DOCTOR_DEFAULTS.echo, help: 'message sent after the upgrade; its echo or {"type":"pong"} passes' },
    { name: 'timeout', kind: 'duration', arg: 'DURATION', default: formatDuration(DOCTOR_DEFAULTS.timeoutMs), help: `time allowed for each network step, however slowly the server answers, up to ${formatDuration(MAX_TIMEOUT_MS)}; the whole run stops after 4 × this` },
    { name: 'json', kind: 'switch', default: 'off', help: 'print the report as JSON (schema in the package README)' },
    { name: 'help', kind: 'switch', short: 'h', default: '-', help: 'show this help' },
  ],
  footer: [
    'Exit codes: 0 no FAIL, 1 at least one FAIL, 2 bad input, 3 internal error.',
    'Example: wss-mp-server doctor wss://wss.example.com/wss',
  ],
};

export const USAGE = helpText(DOCTOR);

/** Turns argv into runDoctor arguments; throws OptionError naming the bad option. */
export function parseDoctorArgs(argv: string[]): { help: true } | { help: false; url: string; json: boolean; options: DoctorOptions } {
  const { values: v, positionals } = parseFlags(DOCTOR, argv, true);
  if (v.help) return { help: true };
  const [url, ...extra] = positionals;
  if (!url) throw new OptionError('<url>', 'a wss:// URL, e.g. wss://example.com/wss', undefined);
  if (extra.length) throw new OptionError('<url>', 'exactly one URL', `${positionals.length} arguments`);
  const target = parseTarget(url);
  const options: DoctorOptions = {};
  if (v.timeout !== undefined) {
    const ms = v.timeout as number;
    if (ms <= 0 || ms > MAX_TIMEOUT_MS) throw new OptionError('--timeout', `a duration above 0 and at most ${formatDuration(MAX_TIMEOUT_MS)}, e.g. 10s`, formatDuration(ms));
    options.timeoutMs = ms;
  }
  const echo = v.echo as string | undefined;
  if (echo !== undefined) {
    if (echo === '') throw new OptionError('--echo', 'a non-empty message', echo);
    options.echo = echo;
  }
  const resolve = v.resolve as string[] | undefined;
  if (resolve?.length) options.connectTo = pickResolve(resolve, target);
  if (v.ca !== undefined) options.ca = readCa(v.ca as string);
  return { help: false, url, json: !!v.json, options };
}

/** The first --resolve that matches the URL's host and port (curl's rule); else the first error. */
function pickResolve(specs: string[], target: ReturnType<typeof parseTarget>): string {
  const matching = specs.map((spec) => {
    try {
      return parseResolve(spec, target);
    } catch (err) {
      return err as OptionError;
    }
  });
  const ok = matching.find((m) => typeof m === 'string');
  if (ok === undefined) throw matching[0] as OptionError;
  return ok as string;
}

function readCa(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new OptionError('--ca', `a readable PEM file (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`, file);
  }
  loadCa(pem, '--ca');
  return pem;
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

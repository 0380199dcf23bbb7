// Runs the built `wss-mp-server doctor` CLI and reads its verdicts; makes the one certificate
// support/certs.ts cannot (a self-signed server leaf). Used by test/doctor*.e2e.test.ts.
import { execFile, execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import path from 'node:path';
import { SERVER_CLI } from './server';

export interface DoctorCheck {
  id: string;
  status: 'PASS' | 'WARN' | 'FAIL' | 'INFO' | 'SKIP';
  summary: string;
  fix?: string;
  data?: Record<string, unknown>;
}

export interface DoctorReport {
  schema: number;
  url: string;
  ok: boolean;
  counts: Record<DoctorCheck['status'], number>;
  checks: DoctorCheck[];
  target: { host: string; port: number; path: string; address: string | null; resolvedByOption: boolean };
}

export interface DoctorRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI under test; WSS_MP_DOCTOR_CLI points the suite at another build (e.g. a mutated one). */
const DOCTOR_CLI = process.env.WSS_MP_DOCTOR_CLI ?? SERVER_CLI;

/** `wss-mp-server doctor ...args` from the built dist, with a deadline. */
export function runDoctorCli(args: string[], timeout = 20_000): Promise<DoctorRun> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [DOCTOR_CLI, 'doctor', ...args], { timeout, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code ?? null) : 0;
      if (err && typeof code !== 'number') return reject(new Error(`doctor did not finish: ${err.message}\n${stderr}`));
      resolve({ code: code as number, stdout, stderr });
    });
  });
}

export type DoctorResult = DoctorReport & { code: number | null; stdout: string };

/** Runs with `--json` and parses the report (asserting the exit code matches `ok`). */
export async function doctorJson(args: string[]): Promise<DoctorResult> {
  const r = await runDoctorCli([...args, '--json']);
  let report: DoctorReport;
  try {
    report = JSON.parse(r.stdout) as DoctorReport;
  } catch {
    throw new Error(`doctor --json printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  assert.equal(r.code, report.ok ? 0 : 1, `exit code vs ok:\n${r.stdout}`);
  return { ...report, code: r.code, stdout: r.stdout };
}

/** The check with `id`, asserting its status and that summary/fix match. */
export function expectCheck(
  report: DoctorReport,
  id: string,
  status: DoctorCheck['status'],
  summary?: RegExp,
  fix?: RegExp,
): DoctorCheck {
  const c = report.checks.find((x) => x.id === id);
  assert.ok(c, `no check "${id}" in ${report.checks.map((x) => x.id).join(', ')}`);
  const dump = `${c.status} ${c.id}: ${c.summary}\n  fix: ${c.fix}`;
  assert.equal(c.status, status, dump);
  if (summary) assert.match(c.summary, summary, dump);
  if (fix) assert.match(c.fix ?? '', fix, dump);
  return c;
}

/** Ids of checks that are not PASS/INFO, for "everything else is fine" assertions. */
export function problems(report: DoctorReport): string[] {
  return report.checks.filter((c) => c.status !== 'PASS' && c.status !== 'INFO').map((c) => `${c.status} ${c.id}: ${c.summary}`);
}

/** A self-signed server certificate (CA:FALSE, serverAuth, SAN) for `host`, in `dir`. */
export function selfSignedLeaf(dir: string, host: string): { cert: string; key: string } {
  const cert = path.join(dir, 'self-signed.pem');
  const key = path.join(dir, 'self-signed.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '30', '-subj', `/CN=${host}`,
    '-keyout', key, '-out', cert, '-addext', `subjectAltName=DNS:${host}`, '-addext', 'basicConstraints=critical,CA:FALSE',
    '-addext', 'extendedKeyUsage=serverAuth'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { cert, key };
}


// CLI input handling: bad input exits 2 with a typed error naming the option; never touches the
// network (every case fails before a probe starts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main, parseDoctorArgs, EXIT } from '../../src/cli/doctor';
import { OptionError } from '../../src/common/errors';

function capture() {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } },
    get out() {
      return out;
    },
    get err() {
      return err;
    },
  };
}

const URL_OK = 'wss://wss.example.test:8443/wss';

test('bad input → exit 2, message names the option', async () => {
  const cases: Array<[string[], string, RegExp]> = [
    [[], '<url>', /expected a wss:\/\/ URL/],
    [[URL_OK, 'extra'], '<url>', /exactly one URL/],
    [['nonsense'], '<url>', /absolute URL/],
    [[URL_OK, '--bogus'], '--bogus', /one of --ca, --resolve/],
    [[URL_OK, '--timeout'], '--timeout', /a value after it/],
    [[URL_OK, '--timeout', 'soon'], '--timeout', /a duration with a unit: 500ms, 25s/],
    [[URL_OK, '--timeout', '5'], '--timeout', /write 5s for seconds/],
    [[URL_OK, '--timeout', '0'], '--timeout', /above 0/],
    [[URL_OK, '--timeout', '11m'], '--timeout', /at most 10m/],
    [[URL_OK, '--json=yes'], '--json', /no value/],
    [[URL_OK, '--timeout', '-1'], '--timeout', /./],
    [[URL_OK, '--echo', ''], '--echo', /non-empty/],
    [[URL_OK, '--resolve', 'wss.example.test:443:127.0.0.1'], '--resolve', /8443/],
    [[URL_OK, '--ca', '/nonexistent/ca.pem'], '--ca', /ENOENT/],
  ];
  for (const [argv, option, re] of cases) {
    assert.throws(() => parseDoctorArgs(argv), (e: unknown) => {
      assert.ok(e instanceof OptionError, `${argv.join(' ')}: ${String(e)}`);
      assert.equal(e.code, 'ERR_INVALID_OPTION');
      assert.equal(e.option, option, argv.join(' '));
      assert.match(e.message, re);
      return true;
    });
    const c = capture();
    assert.equal(await main(argv, c.io), EXIT.USAGE, argv.join(' '));
    assert.match(c.err, new RegExp(`^wss-mp-server doctor: ${option.replace(/[<>]/g, '.')}`));
    assert.match(c.err, /--help/);
  }
});

test('--ca must hold a PEM certificate', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'doctor-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'not-a-cert.pem');
  writeFileSync(f, 'hello\n');
  assert.throws(() => parseDoctorArgs([URL_OK, '--ca', f]), (e: unknown) => e instanceof OptionError && e.option === '--ca' && /CERTIFICATE block/.test(e.message));
});

test('--json bad input: a JSON error object on stdout, exit 2', async () => {
  const c = capture();
  assert.equal(await main(['wss://x.example.test/wss?token=abc123', '--json', '--timeout', 'x'], c.io), 2);
  const body = JSON.parse(c.out) as { error: { code: string; option: string; message: string } };
  assert.equal(body.error.code, 'ERR_INVALID_OPTION');
  assert.equal(body.error.option, '--timeout');
  assert.doesNotMatch(c.out + c.err, /abc123/);
});

test('options map onto runDoctor options', () => {
  const r = parseDoctorArgs([URL_OK, '--timeout', '2.5s', '--echo', 'tom', '--resolve', 'other.test:1:10.0.0.1', '--resolve', 'wss.example.test:8443:127.0.0.1', '--json']);
  assert.equal(r.help, false);
  if (r.help) return;
  assert.deepEqual(r.options, { timeoutMs: 2500, echo: 'tom', connectTo: '127.0.0.1' });
  assert.equal(r.json, true);
});

test('--help prints usage with every option and exit codes, exit 0', async () => {
  const c = capture();
  assert.equal(await main(['--help'], c.io), 0);
  for (const s of ['--ca FILE', '--resolve HOST:PORT:ADDR', '--echo TEXT', '--timeout DURATION', '--json', 'Exit codes: 0 no FAIL, 1 at least one FAIL, 2 bad input']) {
    assert.ok(c.out.includes(s), s);
  }
});

// One flag grammar across the built CLI's subcommands: a bare-number duration is refused by
// every one of them (exit 2) with a message that shows the unit form, and `serve` is an
// explicit name for the default command. Against packages/server/dist/cli.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { SERVER_CLI } from './support/server';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [SERVER_CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('a bare duration exits 2 naming the unit form, in every subcommand', () => {
  const cases: Array<[string[], string]> = [
    [['--behind-proxy', '--port', '0', '--heartbeat-interval', '25'], 'wss-mp-server: --heartbeat-interval'],
    [['serve', '--behind-proxy', '--port', '0', '--drain-timeout', '25'], 'wss-mp-server: --drain-timeout'],
    [['doctor', 'wss://example.com/wss', '--timeout', '25'], 'wss-mp-server doctor: --timeout'],
    [['proxy-config', 'nginx', '--domain', 'example.com', '--heartbeat-interval', '25'], 'wss-mp-server proxy-config: --heartbeat-interval'],
  ];
  for (const [args, prefix] of cases) {
    const r = cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.ok(r.err.startsWith(prefix), `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, /write 25s for seconds/, args.join(' '));
    assert.match(r.err, /--help" for usage/);
    assert.equal(r.out, '');
  }
});

test('a bare size exits 2 naming the unit form', () => {
  const r = cli(['--behind-proxy', '--port', '0', '--max-payload', '65536']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--max-payload: .*write 65536B for bytes or 64KiB/);
});

test('the same duration means the same in every subcommand: 25s', () => {
  const proxy = cli(['proxy-config', 'nginx', '--domain', 'example.com', '--heartbeat-interval', '25s', '--idle-timeout', '75s']);
  assert.equal(proxy.code, 0, proxy.err);
  assert.match(proxy.out, /proxy_read_timeout 75s;/);
  assert.match(proxy.out, /--idle-timeout 75s/, 'the header repeats the command line in the same grammar');
  // Each --help shows its durations in that grammar.
  for (const args of [['--help'], ['serve', '--help'], ['doctor', '--help'], ['proxy-config', '--help']]) {
    const r = cli(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.out, /Durations take a unit: 500ms, 25s, 5m, 1h/, args.join(' '));
  }
  assert.match(cli(['--help']).out, /--heartbeat-interval DURATION\s.*\[25s\]/);
  assert.match(cli(['proxy-config', '--help']).out, /--heartbeat-interval DURATION\s.*\[25s\]/);
  assert.match(cli(['doctor', '--help']).out, /--timeout DURATION\s.*\[10s\]/);
});

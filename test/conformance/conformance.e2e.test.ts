// The conformance suite against our server, native TLS (dev cert) and plain ws (behind-proxy
// mode), or against CONFORMANCE_URL when set.
import { describe, test, after, before } from 'node:test';
import { readFileSync } from 'node:fs';
import { startDevServer, type DevServer } from '../support/dev-server';
import { startServer, type RunningServer } from '../support/server';
import { CHECKS, type Target } from './suite';

const FLAGS = ['--messaging', '--conformance', '--history-size', '20', '--quiet'];

function run(name: string, target: () => Target) {
  describe(name, () => {
    for (const [check, fn] of CHECKS) test(check, () => fn(target()));
  });
}

if (process.env.CONFORMANCE_URL) {
  const ca = process.env.CONFORMANCE_CA;
  const token = process.env.CONFORMANCE_TOKEN;
  run(`conformance: ${process.env.CONFORMANCE_URL}`, () => ({
    url: process.env.CONFORMANCE_URL!,
    ws: { ca: ca ? readFileSync(ca) : undefined, headers: token ? { authorization: `Bearer ${token}` } : undefined },
  }));
} else {
  let dev: DevServer;
  let plain: RunningServer;
  before(async () => {
    [dev, plain] = await Promise.all([startDevServer(FLAGS), startServer(['--behind-proxy', ...FLAGS])]);
  });
  after(async () => {
    await Promise.all([dev?.stop(), plain?.stop()]);
  });
  run('conformance: wss-mp-server, native TLS', () => ({ url: dev.server.url, ws: { ca: readFileSync(dev.ca) } }));
  run('conformance: wss-mp-server, plain ws (behind-proxy mode)', () => ({ url: plain.url }));
}

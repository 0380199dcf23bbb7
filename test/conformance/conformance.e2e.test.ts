// The conformance suite against our server: native TLS (dev cert), plain ws (behind-proxy
// mode), and that plain ws behind a real nginx with the config `proxy-config` generates — or
// only against CONFORMANCE_URL when it is set.
import { describe, test, after, before } from 'node:test';
import { readFileSync } from 'node:fs';
import { renderProxyConfig } from 'wss-mp-server/proxy-config';
import { findBinary, IN_CI } from '../support/binaries';
import { createPki, issueLeaf, type Pki } from '../support/certs';
import { startDevServer, type DevServer } from '../support/dev-server';
import { startOnFreePort } from '../support/ports';
import { startProxy, type RunningProxy } from '../support/proxies';
import { startServer, type RunningServer } from '../support/server';
import { CHECKS, NotApplicable, type Target } from './suite';

const FLAGS = ['--messaging', '--conformance', '--history-size', '20', '--quiet'];
const DOMAIN = 'wss-mp.test';

function run(name: string, target: () => Target | undefined) {
  describe(name, () => {
    for (const [check, fn] of CHECKS) {
      test(check, async (t) => {
        const tg = target();
        if (tg === undefined) return void t.skip('no target (see the loud message above)');
        try {
          await fn(tg);
        } catch (err) {
          if (!(err instanceof NotApplicable)) throw err;
          t.skip(`not applicable: ${err.message}`);
        }
      });
    }
  });
}

/** Resolves DOMAIN to loopback for the client (both lookup call styles). */
function lookup(_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) {
  if (opts?.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
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
  let pki: Pki | undefined;
  let nginx: RunningProxy | undefined;
  before(async () => {
    [dev, plain] = await Promise.all([startDevServer(FLAGS), startServer(['--behind-proxy', ...FLAGS])]);
    if (!findBinary('nginx')) {
      const msg = 'missing binary "nginx" (apt-get install it; .ci/run does)';
      if (IN_CI) throw new Error(msg);
      console.warn(`\n!!! SKIPPED: conformance behind nginx: ${msg}\n`);
      return;
    }
    pki = createPki();
    const leaf = issueLeaf(pki, { hosts: [DOMAIN] });
    nginx = await startOnFreePort((port) => {
      const cfg = renderProxyConfig('nginx', { domain: DOMAIN, path: '/wss', listen: `127.0.0.1:${port}`, upstream: `127.0.0.1:${plain.port}`,
        cert: leaf.fullchain, key: leaf.key });
      return startProxy('nginx', { site: cfg.text, main: cfg.main, port });
    });
  });
  after(async () => {
    await nginx?.stop();
    await Promise.all([dev?.stop(), plain?.stop()]);
    pki?.cleanup();
  });
  run('conformance: wss-mp-server, native TLS', () => ({ url: dev.server.url, ws: { ca: readFileSync(dev.ca) } }));
  run('conformance: wss-mp-server, plain ws (behind-proxy mode)', () => ({ url: plain.url }));
  run('conformance: wss-mp-server behind nginx (generated config)', () =>
    nginx && pki ? { url: `wss://${DOMAIN}:${nginx.port}/wss`, ws: { ca: readFileSync(pki.caCert), lookup: lookup as never } } : undefined);
}

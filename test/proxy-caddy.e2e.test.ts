// Method 1 for real: caddy, started by the test from its Debian binary with its own prefix on
// loopback, runs the config `wss-mp-server proxy-config caddy` emits in front of the real
// wss-mp-server --behind-proxy. The suite is shared: support/proxy-suite.ts.
import { proxySuite } from './support/proxy-suite';

proxySuite('caddy');

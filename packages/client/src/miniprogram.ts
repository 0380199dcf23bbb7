/**
 * Build entry of miniprogram_dist/index.js: the WeChat entry's exports as a plain CommonJS
 * object (no ESM interop helpers in the budgeted file). dist.test.ts checks that it exports
 * exactly what dist/index.cjs does.
 */
import { CLIENT_DEFAULTS, SocketError, createClient, defaultIsPong, defaultShouldReconnect, wxDriver } from './index';

declare const module: { exports: object };
module.exports = { createClient, CLIENT_DEFAULTS, SocketError, wxDriver, defaultIsPong, defaultShouldReconnect };

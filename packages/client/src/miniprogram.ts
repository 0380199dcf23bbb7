/**
 * Build entry of miniprogram_dist/index.js: the WeChat entry's exports as a plain CommonJS
 * object (no ESM interop helpers in the budgeted file). A test checks that it exports exactly
 * what dist/index.cjs does.
 */
import { CLIENT_DEFAULTS, SocketError, createClient, createEmitter, defaultIsPong, defaultShouldReconnect } from './index';

declare const module: { exports: object };
module.exports = { createClient, CLIENT_DEFAULTS, SocketError, defaultIsPong, defaultShouldReconnect, createEmitter };

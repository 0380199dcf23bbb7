/**
 * Build entry of miniprogram_dist/messaging.js (`require('wss-mp-client/messaging')` in a mini
 * program: Build npm copies the folder, so the path resolves to this file). The core comes from
 * the sibling index.js — the build rewrites `./index` to `require('./index.js')` — so an app
 * carries one copy of it. A test checks that it exports exactly what dist/messaging.cjs does.
 */
import { createMessagingClient, MESSAGING_DEFAULTS, MessagingError } from './messaging';

declare const module: { exports: object };
module.exports = { createMessagingClient, MESSAGING_DEFAULTS, MessagingError };

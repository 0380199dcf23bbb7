// A browser/bundler project without DOM types: lib ES2017 only, no ambient types at all.
import { createClient, webPlatform, type WebSocketConstructor } from 'wss-mp-client/web';
import { alipayPlatform, createClient as createAlipay } from 'wss-mp-client/alipay';

declare const MyWebSocket: WebSocketConstructor;
const c = createClient({ url: 'wss://example.com/wss', platform: webPlatform(MyWebSocket) });
c.send('hi');
declare const my: Parameters<typeof alipayPlatform>[0];
createAlipay({ url: 'wss://example.com/wss', platform: alipayPlatform(my) });

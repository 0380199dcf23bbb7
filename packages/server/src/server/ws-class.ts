/**
 * A class `ws` exports but does not type (Receiver, Sender): a named export of its ESM wrapper, a
 * property of the CommonJS export. Throws when the installed ws has none (ws 8 expected), so an
 * incompatible ws fails at startup, not on the first message.
 */
import * as wsModule from 'ws';

export function wsClass<T>(name: 'Receiver' | 'Sender'): T {
  const exports = wsModule as unknown as Record<string, T | undefined> & { default?: Record<string, T | undefined> };
  const found = exports[name] ?? exports.default?.[name];
  if (!found) throw new Error(`wss-mp-server: the installed ws exports no ${name} (ws 8 expected)`);
  return found;
}

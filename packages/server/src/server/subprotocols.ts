/**
 * Subprotocol negotiation: the server answers with a subprotocol only when it knows it.
 *
 * Without a `handleProtocols`, ws echoes the first subprotocol the client offers, so a client
 * asking for `mqtt, chat` is told the server speaks MQTT, and goes on as if it did. Here the
 * answer is the first offered protocol (in the client's order of preference) that is in the
 * configured list; none means no Sec-WebSocket-Protocol header, and a browser that insisted
 * on one fails the connection itself, as RFC 6455 §4.1 has it.
 */
import type { IncomingMessage } from 'node:http';

/** RFC 6455 §4.1: a subprotocol is an RFC 2616 token. */
export const SUBPROTOCOL_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export type ProtocolSelector = (offered: Set<string>, req: IncomingMessage) => string | false;

/** A ws `handleProtocols` that accepts only `known` protocols (one function per server). */
export function protocolSelector(known: readonly string[]): ProtocolSelector {
  const set = new Set(known);
  return (offered) => {
    if (set.size === 0) return false;
    for (const p of offered) if (set.has(p)) return p;
    return false;
  };
}

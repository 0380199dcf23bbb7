/**
 * The one subprotocol decision (ws's handleProtocols). `wss-mp.v1` is selected only when
 * messaging is on: selecting it otherwise would tell a messaging client the server speaks the
 * protocol. Any other offer keeps ws's default (the first one offered), which is what plain
 * clients got before messaging existed.
 */
import { MESSAGING_SUBPROTOCOL } from '@wss-mp/protocol';

/** Subprotocols this server understands when messaging is on. */
export const KNOWN_SUBPROTOCOLS: readonly string[] = Object.freeze([MESSAGING_SUBPROTOCOL]);

export function selectSubprotocol(offered: ReadonlySet<string>, messaging: boolean): string | false {
  if (messaging && offered.has(MESSAGING_SUBPROTOCOL)) return MESSAGING_SUBPROTOCOL;
  for (const p of offered) if (p !== MESSAGING_SUBPROTOCOL) return p;
  return false;
}

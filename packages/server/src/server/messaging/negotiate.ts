/**
 * The one subprotocol decision (ws's handleProtocols). A subprotocol is selected only when the
 * server speaks it (subprotocols.ts): the ones configured with `subprotocols`, plus `wss-mp.v1`
 * when messaging is on. Selecting `wss-mp.v1` otherwise would tell a messaging client the server
 * speaks the protocol; echoing anything else offered would tell an MQTT client this is MQTT.
 * `wss-mp.v1` wins over the others when the client offers several.
 */
import { MESSAGING_SUBPROTOCOL } from '@wss-mp/protocol';
import { protocolSelector, type ProtocolSelector } from '../subprotocols';

/** handleProtocols for a server that speaks `configured`, and the messaging protocol if `messaging`. */
export function subprotocolSelector(configured: readonly string[], messaging: boolean): ProtocolSelector {
  const others = protocolSelector(configured.filter((p) => p !== MESSAGING_SUBPROTOCOL));
  return (offered, req) => (messaging && offered.has(MESSAGING_SUBPROTOCOL) ? MESSAGING_SUBPROTOCOL : others(offered, req));
}

import type { Platform } from './platform/types';

const EVENTS = ['AppShow', 'AppHide', 'NetworkStatusChange'];

/**
 * Subscribes `show`, `hide` and `network` with the platform's onAppShow, onAppHide and
 * onNetworkStatusChange (those it has) and returns one function that unsubscribes them with the
 * matching off*() calls. Hosts without off*() keep calling: handlers must be harmless afterwards.
 */
export function watchLifecycle(
  platform: Platform,
  show: () => void,
  hide: () => void,
  network: (res: { isConnected: boolean }) => void,
): () => void {
  const p = platform as Record<string, any>;
  const each = (verb: string) => [show, hide, network].forEach((fn, i) => p[verb + EVENTS[i]] && p[verb + EVENTS[i]](fn));
  each('on');
  return () => each('off');
}

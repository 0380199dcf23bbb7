import { SocketError } from '../errors';
import type { Driver, MiniNamespace } from './types';
import { wxDriver } from './wx';

/** `platform` as given: a Driver as is, a wx-like namespace through wxDriver, else ERR_PLATFORM. */
export function toDriver(platform: unknown): Driver {
  const p = platform as Partial<Driver & MiniNamespace>;
  if (p && p.connect) return p as Driver;
  if (p && p.connectSocket) return wxDriver(p as MiniNamespace);
  throw new SocketError('ERR_PLATFORM', 'no connectSocket: pass option "platform"');
}

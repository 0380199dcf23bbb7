import type { Driver, MiniNamespace, MiniSocketTask } from './types';

const noop = () => {};

/**
 * Driver for any `wx`-like namespace: wx, qq, tt (Douyin), swan (Baidu), uni, Taro.
 * - Talks to connectSocket/SocketTask directly (never the legacy global wx.*Socket* calls).
 * - uni returns a task only when a callback is passed: we always pass `fail` and `complete`.
 * - Taro returns Promise<SocketTask>: calls made before it resolves are applied on arrival.
 * - Douyin may report the close code as a string: Number() it.
 */
export function wxDriver(ns: MiniNamespace): Driver {
  const hook =
    (on: 'onAppShow' | 'onAppHide' | 'onNetworkStatusChange', off: 'offAppShow' | 'offAppHide' | 'offNetworkStatusChange') =>
    (fn: (res: any) => void) => {
      if (typeof ns[on] !== 'function') return noop;
      ns[on]!(fn);
      return () => {
        if (typeof ns[off] === 'function') ns[off]!(fn);
      };
    };
  const network = hook('onNetworkStatusChange', 'offNetworkStatusChange');
  return {
    connect(ep, h) {
      let task: MiniSocketTask | undefined;
      let pendingClose: [number, string] | undefined;
      const fail = (res: unknown) => {
        h.error(res);
        h.close(1006, '');
      };
      const attach = (t: MiniSocketTask) => {
        task = t;
        t.onOpen((res) => h.open(res && res.header));
        t.onMessage((res) => h.message(res.data));
        t.onClose((res) => h.close(Number(res && res.code) || 1005, (res && res.reason) || ''));
        t.onError(h.error);
        if (pendingClose) t.close({ code: pendingClose[0], reason: pendingClose[1], fail: noop });
      };
      const option: Parameters<MiniNamespace['connectSocket']>[0] = { url: ep.url, fail, complete: noop };
      if (ep.header) option.header = ep.header;
      if (ep.protocols) option.protocols = ep.protocols;
      const r = ns.connectSocket(option);
      if (r && typeof r.then === 'function') r.then(attach, fail);
      else if (r) attach(r);
      else fail({ errMsg: 'connectSocket returned no SocketTask' });
      return {
        send(data, onFail) {
          if (task) task.send({ data, fail: onFail });
          else onFail({ errMsg: 'no SocketTask yet' });
        },
        close(code, reason) {
          // `fail` absorbs "closeSocket:fail taskID not exist" and friends.
          if (task) task.close({ code, reason, fail: noop });
          else pendingClose = [code, reason];
        },
      };
    },
    onShow: hook('onAppShow', 'offAppShow'),
    onHide: hook('onAppHide', 'offAppHide'),
    onNetwork: (fn) => network((res: { isConnected?: boolean }) => fn(!res || res.isConnected !== false)),
  };
}

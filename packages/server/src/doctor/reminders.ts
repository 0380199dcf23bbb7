/** What no probe from outside can see: printed as INFO reminders (docs/wechat-platform.md#domain-tls-certificates). */
import type { DoctorCheck } from './types';

export function reminders(host: string): DoctorCheck[] {
  return [
    {
      id: 'remind-domain-list',
      status: 'INFO',
      summary: `cannot check from here: ${host} must be in the mini program's socket legal domain list (else errno 600002 "url not in domain list")`,
      fix: 'MP admin console → 开发管理 → 开发设置 → 服务器域名 → socket合法域名: add wss://' + host,
    },
    {
      id: 'remind-icp',
      status: 'INFO',
      summary: 'cannot check from here: the domain needs an ICP filing (备案) to be accepted in the domain list',
      fix: 'file the domain with the hosting provider (ICP备案) before adding it',
    },
    {
      id: 'remind-root-store',
      status: 'INFO',
      summary: 'checked against Node\'s bundled Mozilla roots; old phones have older root stores',
      fix: 'use a widely trusted public CA and always send the full chain; test on a real iOS and Android phone',
    },
    {
      id: 'remind-devtools',
      status: 'INFO',
      summary: 'DevTools "不校验合法域名、TLS 版本以及 HTTPS 证书" (urlCheck: false) and phone debug mode skip these rules',
      fix: 'test with urlCheck on and debug mode off on a real phone before release',
    },
    {
      id: 'remind-idle-timeout',
      status: 'INFO',
      summary: 'not measured: a proxy cuts idle tunnels (nginx proxy_read_timeout default 60 s, Apache Timeout)',
      fix: 'keep the proxy idle timeout ≥ 120 s and the heartbeat at 25–30 s',
    },
  ];
}

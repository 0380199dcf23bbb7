/** Verdicts on the URL itself and on reaching the host: scheme, host, port, dns, tcp. */
import type { DoctorCheck } from './types';
import { classifyHost, type Target } from './target';
import type { DnsResult, TcpResult } from './net-probe';

export function checkScheme(t: Target): DoctorCheck {
  const wssUrl = `wss://${t.url.host}${t.url.pathname}`;
  switch (t.scheme) {
    case 'wss:':
      return { id: 'scheme', status: 'PASS', summary: 'wss:// (WebSocket over TLS)' };
    case 'ws:':
      return {
        id: 'scheme',
        status: 'FAIL',
        summary: 'ws:// is plain text; release builds of a mini program only open wss://',
        fix: `serve TLS (a proxy on 443, or wss-mp-server --cert/--key) and use ${wssUrl}; TLS checks skipped`,
      };
    default:
      return {
        id: 'scheme',
        status: 'FAIL',
        summary: `${t.scheme}// is not a WebSocket URL; wx.connectSocket takes wss://`,
        fix: `use ${wssUrl} (checked here as ${t.secure ? 'wss' : 'ws'}://)`,
      };
  }
}

export function checkHost(t: Target): DoctorCheck {
  const kind = classifyHost(t.host);
  if (kind === 'domain') {
    const labels = t.host.replace(/\.$/, '').split('.');
    if (labels.length < 2) {
      return {
        id: 'host',
        status: 'WARN',
        summary: `"${t.host}" is a single-label name, not a public domain`,
        fix: 'use a registered public domain name (with ICP filing for mainland China)',
      };
    }
    return { id: 'host', status: 'PASS', summary: `${t.host} is a domain name` };
  }
  const what = kind === 'localhost' ? 'localhost' : `an IP address (${kind === 'ipv4' ? 'IPv4' : 'IPv6'})`;
  return {
    id: 'host',
    status: 'FAIL',
    summary: `host is ${what}: WeChat only connects to domain names in the socket legal domain list`,
    fix: 'point a domain name at this server (e.g. wss.example.com), issue the certificate for it and add it to the domain list',
    data: { kind },
  };
}

export function checkPort(t: Target): DoctorCheck {
  if (t.port === 443) return { id: 'port', status: 'PASS', summary: '443' };
  return {
    id: 'port',
    status: 'INFO',
    summary: `port ${t.port}: WeChat accepts any port on a wss domain today; 443 passes every firewall and older base libraries`,
    data: { port: t.port },
  };
}

export function checkDns(t: Target, dns: DnsResult | null, pinned: string | null): DoctorCheck {
  if (pinned) {
    return {
      id: 'dns',
      status: 'INFO',
      summary: `not resolved: --resolve sends every connection to ${pinned}; SNI and certificate checks use ${t.host}`,
      data: { address: pinned },
    };
  }
  if (!dns) return { id: 'dns', status: 'PASS', summary: 'host is an address; nothing to resolve' };
  if (dns.ok) {
    return {
      id: 'dns',
      status: 'PASS',
      summary: `${t.host} → ${dns.addresses.join(', ')}${dns.addresses.length > 1 ? ` (probing ${dns.addresses[0]})` : ''}`,
      data: { addresses: dns.addresses },
    };
  }
  return {
    id: 'dns',
    status: 'FAIL',
    summary: `${t.host} does not resolve (${dns.errorCode})`,
    fix: `create an A/AAAA record for ${t.host} pointing at the server (or the proxy in front of it)`,
    data: { errorCode: dns.errorCode },
  };
}

const TCP_HINTS: Record<string, string> = {
  ECONNREFUSED: 'nothing listens there: start the server/proxy, or check the port (a backend bound to 127.0.0.1 is not reachable from outside)',
  ETIMEDOUT: 'no answer: open the port in the firewall / cloud security group',
  EHOSTUNREACH: 'no route to the host: check the address and the network',
  ENETUNREACH: 'no route to the network: check the address (IPv6 without IPv6 connectivity?)',
};

export function checkTcp(address: string, port: number, r: TcpResult): DoctorCheck {
  if (r.ok) return { id: 'tcp', status: 'PASS', summary: `connected to ${fmtAddr(address, port)} in ${r.ms} ms`, data: { ms: r.ms } };
  return {
    id: 'tcp',
    status: 'FAIL',
    summary: `cannot connect to ${fmtAddr(address, port)} (${r.errorCode})`,
    fix: TCP_HINTS[r.errorCode ?? ''] ?? 'check that the server is running and the port is open',
    data: { errorCode: r.errorCode },
  };
}

export function fmtAddr(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

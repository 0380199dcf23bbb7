/** Extra trusted roots (`--ca`): the probes' `ca` list and the fingerprints that mark a private anchor. */
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { OptionError } from '../common/errors';

export interface LoadedCa {
  /** Node's bundled roots plus the extras; undefined = Node's defaults. */
  ca?: Array<string | Buffer>;
  /** SHA-256 fingerprints (Node's colon-hex form) of the extra certificates. */
  extraRoots: Set<string>;
}

/** `option` names the option in errors: `ca` for the API, `--ca` for the CLI. */
export function loadCa(input: string | Buffer | Array<string | Buffer> | undefined, option: string): LoadedCa {
  const extraRoots = new Set<string>();
  if (input === undefined) return { extraRoots };
  const pems = (Array.isArray(input) ? input : [input]).map((x) => x.toString());
  for (const pem of pems) {
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new OptionError(option, 'PEM text with at least one CERTIFICATE block', '(no certificate found)');
    for (const b of blocks) {
      try {
        extraRoots.add(new X509Certificate(b).fingerprint256);
      } catch (err) {
        throw new OptionError(option, 'PEM certificates OpenSSL can parse', `(unparsable block: ${(err as Error).message})`);
      }
    }
  }
  return { ca: [...rootCertificates, ...pems], extraRoots };
}

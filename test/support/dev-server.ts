// wss-mp-server in its dev mode (`--dev-cert`, as `npm start` runs it) on a random port, with
// the dev CA generated into a private temp dir ($WSS_MP_DEV_CERT_DIR) so tests never touch the
// developer's real dev CA. Returns the CA and leaf paths a client must trust.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from './server';

export interface DevServer {
  server: RunningServer;
  /** The dev CA certificate (PEM path): what clients trust. */
  ca: string;
  /** The server's leaf certificate (PEM path). */
  cert: string;
  stop(): Promise<void>;
}

export async function startDevServer(args: string[] = []): Promise<DevServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-devcert-'));
  let server: RunningServer;
  try {
    server = await startServer(['--dev-cert', ...args], { env: { WSS_MP_DEV_CERT_DIR: dir } });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const ca = path.join(dir, 'ca.pem');
  const cert = path.join(dir, 'cert.pem');
  if (!existsSync(ca) || !existsSync(cert)) {
    await server.stop();
    throw new Error(`wss-mp-server --dev-cert did not write ca.pem and cert.pem into $WSS_MP_DEV_CERT_DIR (${dir})`);
  }
  return {
    server,
    ca,
    cert,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

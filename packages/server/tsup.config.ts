import { defineConfig } from 'tsup';

// Four entry points: the server (package root), the doctor and the proxy-config generator
// (sub-paths, so that importing the server loads neither), and the CLI. Code they share
// (errors, the TLS policy) goes to chunks that each entry imports.
const entry = {
  index: 'src/index.ts',
  doctor: 'src/doctor/index.ts',
  'proxy-config': 'src/proxy-config/index.ts',
};

export default defineConfig({
  entry: { ...entry, cli: 'src/cli/main.ts' },
  format: ['esm'],
  target: 'node20',
  dts: { entry },
  clean: true,
  // The wire contract is a private workspace package: bundle it so the published package
  // depends on ws alone.
  noExternal: ['@wss-mp/protocol'],
});

import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
  format: ['esm'],
  target: 'node20',
  dts: { entry: 'src/index.ts' },
  clean: true,
  // The wire contract is a private workspace package: bundle it so the published package
  // depends on ws alone.
  noExternal: ['@wss-mp/protocol'],
});

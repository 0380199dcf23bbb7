import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/web.ts'],
  format: ['cjs', 'esm'],
  dts: true,
  clean: true,
  noExternal: ['@wss-mp/protocol'],
});

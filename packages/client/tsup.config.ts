import { defineConfig } from 'tsup';

// dist/: ESM + CJS + .d.ts per entry for Node and bundlers.
// miniprogram_dist/: what WeChat's Build npm copies verbatim: one bundled CommonJS file per
// entry, ES2015 syntax (Build npm drops ES2019+ files silently). Gates: test/dist.test.ts.
const entry = { index: 'src/index.ts', web: 'src/web.ts', alipay: 'src/alipay.ts' };
const common = { noExternal: ['@wss-mp/protocol'], clean: true, sourcemap: false, splitting: false } as const;

export default defineConfig([
  {
    ...common,
    entry,
    format: ['cjs', 'esm'],
    target: 'es2017',
    dts: true,
    outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.mjs' }),
  },
  {
    ...common,
    entry: { index: 'src/miniprogram.ts', alipay: 'src/alipay.ts' },
    outDir: 'miniprogram_dist',
    format: ['cjs'],
    target: 'es2015',
    platform: 'neutral',
    // Types come from dist/ through package.json "types"; Build npm copies this folder verbatim.
    dts: false,
    // Internal-only member names shortened (size budget); dist.test.ts runs the result.
    esbuildOptions(o) {
      o.mangleProps = /^(fails|next|reset|opened|closed|whenGone|items|seen|probe|start|stop|emit|clear)$/;
    },
    outExtension: () => ({ js: '.js' }),
  },
]);

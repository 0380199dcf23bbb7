import { defineConfig } from 'tsup';

// dist/: ESM + CJS + .d.ts per entry for Node and bundlers.
// miniprogram_dist/: what WeChat's Build npm copies verbatim into every app that installs us:
// only the WeChat entries (Alipay apps do not use Build npm, so alipay.js would be dead weight
// there), each one bundled CommonJS file, ES2015 syntax (Build npm drops ES2019+ files silently),
// minified (these are the files the size budgets are about), with source maps. messaging.js
// takes the core from its sibling: `./index` imported by src/messaging.ts stays a
// require('./index.js'), so an app that uses both carries one core. Gates: test/dist.test.ts.
const entry = { index: 'src/index.ts', web: 'src/web.ts', alipay: 'src/alipay.ts', messaging: 'src/messaging.ts' };
const coreFromSibling = {
  name: 'core-from-sibling',
  setup(b: { onResolve(o: { filter: RegExp }, f: (a: { path: string; importer: string }) => { path: string; external: boolean } | undefined): void }) {
    b.onResolve({ filter: /^\.\/index$/ }, (a) => (/[\\/]src[\\/]messaging\.ts$/.test(a.importer) ? { path: './index.js', external: true } : undefined));
  },
};
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
    entry: { index: 'src/miniprogram.ts', messaging: 'src/miniprogram-messaging.ts' },
    esbuildPlugins: [coreFromSibling],
    outDir: 'miniprogram_dist',
    minify: true,
    sourcemap: true,
    format: ['cjs'],
    target: 'es2015',
    platform: 'neutral',
    // Types come from dist/ through package.json "types"; Build npm copies this folder verbatim.
    dts: false,
    // Internal-only member names shortened (size budget); dist.test.ts runs the result. Not the
    // emitter's (emit, clear): messaging.js calls them on the one index.js creates, and names are
    // mangled per file.
    esbuildOptions(o) {
      o.mangleProps = /^(fails|failed|retries|next|reset|opened|closed|whenGone|items|seen|probe|out|start|stop|sid|api|frame|res|rej|timer|due)$/;
    },
    outExtension: () => ({ js: '.js' }),
  },
]);

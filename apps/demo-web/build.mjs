// index.html + one bundled, minified script (wss-mp-client/web included) into dist/.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
mkdirSync('dist');
await build({
  entryPoints: ['src/main.ts'],
  bundle: true,
  format: 'iife',
  target: 'es2018',
  minify: true,
  sourcemap: true,
  outfile: 'dist/main.js',
  logLevel: 'warning',
});
copyFileSync('index.html', 'dist/index.html');

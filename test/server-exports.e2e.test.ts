// The built wss-mp-server package has three entry points: the root (the server), and the
// sub-paths wss-mp-server/doctor and wss-mp-server/proxy-config. Loading the root must not
// load the doctor or the proxy-config generator: checked on the static import graph of the
// built files (acorn), with the sub-paths as positive controls for the markers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parse } from 'acorn';

const require = createRequire(import.meta.url);
const DIST = path.join(path.dirname(require.resolve('wss-mp-server/package.json')), 'dist');

/** Every file reached from `entry` through static imports and re-exports (not import()). */
function staticGraph(entry: string): Map<string, string> {
  const seen = new Map<string, string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const text = readFileSync(file, 'utf8');
    seen.set(file, text);
    const ast = parse(text, { ecmaVersion: 'latest', sourceType: 'module' }) as unknown as { body: Array<{ type: string; source?: { value: string } | null }> };
    for (const node of ast.body) {
      const isStatic = node.type === 'ImportDeclaration' || node.type === 'ExportAllDeclaration' || node.type === 'ExportNamedDeclaration';
      const spec = node.source?.value;
      if (isStatic && spec?.startsWith('.')) visit(path.resolve(path.dirname(file), spec));
    }
  };
  visit(entry);
  return seen;
}

/** Function names only the doctor / the proxy-config generator define. */
const DOCTOR = ['function runDoctor(', 'function probeWebSocket('];
const PROXY_CONFIG = ['function renderNginx(', 'function renderCaddy('];

function contains(graph: Map<string, string>, markers: string[]): string[] {
  const hits: string[] = [];
  for (const [file, text] of graph) for (const m of markers) if (text.includes(m)) hits.push(`${path.basename(file)}: ${m}`);
  return hits;
}

test('the root entry point loads neither the doctor nor the proxy-config generator', () => {
  const root = staticGraph(path.join(DIST, 'index.js'));
  assert.ok(root.size >= 1);
  assert.ok([...root.values()].some((t) => t.includes('function createServer(')), 'the root graph holds the server');
  assert.deepEqual(contains(root, DOCTOR), []);
  assert.deepEqual(contains(root, PROXY_CONFIG), []);
});

test('the sub-paths hold what they name (the markers above are real)', () => {
  const doctor = staticGraph(path.join(DIST, 'doctor.js'));
  assert.equal(contains(doctor, DOCTOR).length, DOCTOR.length);
  assert.deepEqual(contains(doctor, ['function createServer(']), [], 'the doctor does not load the server');
  const proxy = staticGraph(path.join(DIST, 'proxy-config.js'));
  assert.equal(contains(proxy, PROXY_CONFIG).length, PROXY_CONFIG.length);
  assert.deepEqual(contains(proxy, ['function createServer(', ...DOCTOR]), []);
});

test('package exports resolve: root, ./doctor and ./proxy-config, sharing one error class', async () => {
  const root = await import('wss-mp-server');
  const doctor = await import('wss-mp-server/doctor');
  const proxy = await import('wss-mp-server/proxy-config');
  assert.equal(typeof root.createServer, 'function');
  assert.equal('runDoctor' in root, false, 'the doctor is not on the root');
  assert.equal('renderProxyConfig' in root, false, 'proxy-config is not on the root');
  assert.equal(typeof doctor.runDoctor, 'function');
  assert.equal(typeof proxy.renderProxyConfig, 'function');
  // One class across entry points: instanceof works whichever entry threw.
  assert.equal(doctor.OptionError, root.OptionError);
  assert.equal(proxy.OptionError, root.OptionError);
  assert.throws(() => proxy.renderProxyConfig('nginx', { domain: '' }), root.OptionError);
});

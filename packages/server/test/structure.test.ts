// The layout is part of the design: small functions, and imports that only go one way
// (cli → server | doctor | proxy-config → common). Checked on the TypeScript syntax tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');
/** Longest function body allowed, in lines (declaration to closing brace). */
const MAX_FUNCTION_LINES = 80;

function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
}

const files = sources().map((file) => ({
  file,
  rel: path.relative(SRC, file),
  sf: ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true),
}));

test(`no function in src is longer than ${MAX_FUNCTION_LINES} lines`, () => {
  const long: string[] = [];
  for (const { rel, sf } of files) {
    const visit = (n: ts.Node) => {
      if (ts.isFunctionLike(n) && 'body' in n && n.body) {
        const from = sf.getLineAndCharacterOfPosition(n.getStart()).line;
        const lines = sf.getLineAndCharacterOfPosition(n.end).line - from + 1;
        const name = n.name?.getText(sf) ?? '(anonymous)';
        if (lines > MAX_FUNCTION_LINES) long.push(`${rel}:${from + 1} ${name}: ${lines} lines`);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  assert.deepEqual(long, []);
});

/** Top-level folder of a src-relative path ('' for src/index.ts). */
const area = (rel: string) => (rel.includes(path.sep) ? rel.split(path.sep)[0]! : '');

/** Which folders each folder may import from (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  common: [],
  server: ['common'],
  doctor: ['common'],
  'proxy-config': ['common'],
  cli: ['common', 'server', 'doctor', 'proxy-config'],
  // The package root is the server: it must not pull in the doctor or proxy-config.
  '': ['common', 'server'],
};

test('imports go one way: cli → server | doctor | proxy-config → common; the root loads only the server', () => {
  const wrong: string[] = [];
  for (const { file, rel, sf } of files) {
    const from = area(rel);
    assert.ok(from in ALLOWED, `${rel}: src/${from}/ is not a known folder`);
    for (const st of sf.statements) {
      const spec = (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier)
        ? st.moduleSpecifier.text
        : undefined;
      if (!spec?.startsWith('.')) continue;
      const to = area(path.relative(SRC, path.resolve(path.dirname(file), spec)));
      if (to !== from && !ALLOWED[from]!.includes(to)) wrong.push(`${rel} imports ${spec} (${from || 'root'} → ${to || 'root'})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('the send path is in one place: only Connection calls the socket\'s send', () => {
  // Echo, pong, broadcast and conn.send all go through Connection.sendFrame, which enforces
  // maxBufferedAmount (and is where write batching belongs). A direct ws.send elsewhere would
  // bypass both.
  const direct: string[] = [];
  for (const { rel, sf } of files) {
    if (area(rel) !== 'server' || rel === path.join('server', 'connection.ts')) continue;
    const visit = (n: ts.Node) => {
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && n.expression.name.text === 'send') {
        const receiver = n.expression.expression.getText(sf);
        if (/(^|\.)(ws|socket)$/.test(receiver)) direct.push(`${rel}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1} ${receiver}.send`);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  assert.deepEqual(direct, []);
});

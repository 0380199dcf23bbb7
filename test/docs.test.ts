// The docs hold together: every relative link in every README and docs/*.md reaches an existing
// file (and heading, for a #anchor into Markdown), every `docs/<page>.md#<heading>` a comment points
// at exists, nothing points outside the repository, and the root README stays a short read.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CloseCode } from '@wss-mp/protocol';
import { firstTableRows } from './support/markdown';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['node_modules', 'dist', 'miniprogram_dist', 'miniprogram_npm', '.git', 'results']);

function walk(dir: string, keep: (name: string) => boolean, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, keep, out);
    else if (keep(name)) out.push(p);
  }
  return out;
}

const markdown = walk(root, (n) => n.endsWith('.md'));
const sources = walk(root, (n) => /\.(ts|mjs|js)$/.test(n));
const rel = (p: string) => path.relative(root, p);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1/-2 for repeats. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = fenced ? null : /^#{1,6} (.+)$/.exec(line);
    if (!m) continue;
    const text = m[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[`*_]/g, (c) => (c === '_' ? c : ''));
    const slug = text.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n ? `${slug}-${n}` : slug);
  }
  return out;
}

function checkTarget(from: string, target: string, problems: string[]): void {
  const [file = '', anchor] = target.split('#');
  const dest = file ? path.resolve(path.dirname(from), decodeURIComponent(file)) : from;
  if (!existsSync(dest)) return void problems.push(`${rel(from)}: ${target} → no such file`);
  if (anchor && dest.endsWith('.md') && !anchors(dest).has(anchor)) problems.push(`${rel(from)}: ${target} → no heading #${anchor}`);
}

test('the Markdown files were found', () => {
  for (const f of ['README.md', 'docs/deployment.md', 'docs/errors.md', 'docs/troubleshooting.md', 'docs/benchmarks.md']) {
    assert.ok(markdown.includes(path.join(root, f)), f);
  }
});

test('every relative link in every README and docs/*.md resolves (file, and heading for #anchors)', () => {
  const problems: string[] = [];
  let links = 0;
  for (const md of markdown) {
    let text = readFileSync(md, 'utf8');
    text = text.replace(/^```[\s\S]*?^```/gm, ''); // code blocks hold no links
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
      links++;
      checkTarget(md, target, problems);
    }
  }
  assert.ok(links > 40, `only ${links} relative links found: is the pattern broken?`);
  assert.deepEqual(problems, []);
});

test('every docs/<page>.md#<heading> a source comment points at exists', () => {
  const problems: string[] = [];
  for (const f of sources) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\bdocs\/([a-z0-9-]+\.md)(#[a-z0-9-]+)?/g)) {
      checkTarget(path.join(root, 'docs', 'index'), `${m[1]}${m[2] ?? ''}`, problems);
    }
  }
  assert.deepEqual(problems.map((p) => p.replace(/^docs\/index: /, '')), []);
});

test('nothing points at design notes outside the repository', () => {
  // Built from parts so this file does not match itself.
  const outside = new RegExp(['server-ops', 'client-lessons', 'platform-wechat', 'style'].map((n) => `\\b${n}\\.md`).join('|') + '|\\.\\./shared/');
  const hits = [...markdown, ...sources].filter((f) => outside.test(readFileSync(f, 'utf8'))).map(rel);
  assert.deepEqual(hits, []);
});

test('the root README is a short read (≤ 10 KB)', () => {
  const size = statSync(path.join(root, 'README.md')).size;
  assert.ok(size <= 10 * 1024, `README.md is ${size} bytes`);
});

test('docs/errors.md has one row per named close code, with the right number', () => {
  const text = readFileSync(path.join(root, 'docs/errors.md'), 'utf8');
  const rows = firstTableRows(text.slice(text.indexOf('\n## Close codes\n')));
  const documented = new Map(rows.map((r) => [r[1]!.replace(/`/g, ''), Number(r[0])]));
  assert.deepEqual(Object.fromEntries(documented), { ...CloseCode });
});

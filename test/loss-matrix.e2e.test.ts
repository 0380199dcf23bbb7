// The loss matrix (docs/delivery.md): seven disruptions, each with its own server process and
// app, run at the same time so the longest (the 60 s suspension) sets the wall time. For each:
// 1,000 publications server → app and 1,000 requests app → server at a steady rate across the
// disruption; the built miniprogram_dist messaging client on the wx shim, over TLS (the server's
// development certificate) with a JWT, against wss-mp-server in a child process (test/loss/fixture.ts).
// The checker (test/loss/checker.ts) verifies offsets, epochs and request seqs; the compact table
// in the root README must match this run (UPDATE_LOSS_MATRIX=1 rewrites it).
// LOSS_ONLY=kill,stop runs some scenarios only (the README check is then skipped).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureDevCert } from 'wss-mp-server';
import { CLIENT_MP } from './comparison/subjects';
import { documented, fullTable, readmeTable } from './loss/matrix';
import { runScenario, SCENARIOS, type Result, type RunOptions } from './loss/scenarios';
import { subtestEach } from './loss/subtests';
import { signHs256, now } from './support/jwt';
import { ROOT } from './support/server';

const README = path.join(ROOT, 'README.md');
const SECRET = 'a-loss-matrix-secret-of-at-least-32-bytes';
const only = process.env.LOSS_ONLY?.split(',');
const chosen = SCENARIOS.filter((s) => !only || only.includes(s.id));
let certDir: string;
let results: Result[] = [];

before(async () => {
  assert.ok(existsSync(path.join(path.dirname(CLIENT_MP), 'messaging.js')), 'build the client first: pnpm --filter wss-mp-client build');
  certDir = mkdtempSync(path.join(tmpdir(), 'wss-mp-loss-cert-'));
  await ensureDevCert(certDir);
});
after(() => rmSync(certDir, { recursive: true, force: true }));

describe('loss matrix', () => {
  test('every disruption, concurrently: each publication once and in order (or an announced gap), each request processed once and answered', async (t) => {
    const token = signHs256(SECRET, { sub: 'loss-matrix-user', exp: now() + 3600 });
    const o: RunOptions = { certDir, ca: path.join(certDir, 'ca.pem'), jwtSecret: SECRET, token };
    results = await Promise.all(chosen.map((s) => runScenario(s, o)));
    console.log(`\n${fullTable(results)}\n`);
    await subtestEach(t, results);
  });

  test('the README table matches this run', { skip: only ? 'LOSS_ONLY' : false }, () => {
    const table = readmeTable(results);
    const text = readFileSync(README, 'utf8');
    if (process.env.UPDATE_LOSS_MATRIX === '1') {
      const old = documented(text);
      writeFileSync(README, old ? text.replace(old, table) : `${text}\n${table}\n`);
    }
    assert.equal(documented(readFileSync(README, 'utf8')), table, 'the loss matrix in README.md is stale: rerun with UPDATE_LOSS_MATRIX=1');
  });
});

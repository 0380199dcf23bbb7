// The loss matrix against two nodes + Redis (docs/delivery.md#the-cluster-matrix-two-nodes--redis):
// ten disruptions, each with its own pair of wss-mp-server processes behind a load balancer and
// its own app, run at the same time. The eight that leave Redis alone share one redis-server
// (a key prefix each); Redis restarted and Redis frozen get one of their own, with appendonly.
// For each: 1,000 publications made alternately through node A and node B, 1,000 requests
// handled by the node the app is on. Redis keeps its data throughout, so every publication must
// reach the app once and in order with no `resync`, and every request be processed once and
// answered once. The compact table in the root README must match this run
// (UPDATE_LOSS_MATRIX=1 rewrites it). LOSS_ONLY=kill,redis-stop runs some scenarios only.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureDevCert } from 'wss-mp-server';
import { CLIENT_MP } from './comparison/subjects';
import { CLUSTER_SCENARIOS, runClusterScenario, type ClusterResult } from './loss/cluster';
import { CLUSTER_END, CLUSTER_START, END, clusterFullTable, clusterReadmeTable, documented } from './loss/matrix';
import { subtestEach } from './loss/subtests';
import { requireBinary } from './support/binaries';
import { signHs256, now } from './support/jwt';
import { startRedis, type RunningRedis } from './support/redis';
import { ROOT } from './support/server';

const README = path.join(ROOT, 'README.md');
const SECRET = 'a-loss-matrix-secret-of-at-least-32-bytes';
const only = process.env.LOSS_ONLY?.split(',');
const chosen = CLUSTER_SCENARIOS.filter((s) => !only || only.includes(s.id));
let certDir: string;
let shared: RunningRedis | undefined;
let results: ClusterResult[] = [];

before(async () => {
  assert.ok(existsSync(path.join(path.dirname(CLIENT_MP), 'messaging.js')), 'build the client first: pnpm --filter wss-mp-client build');
  certDir = mkdtempSync(path.join(tmpdir(), 'wss-mp-loss-cert-'));
  await ensureDevCert(certDir);
});
after(async () => {
  await shared?.stop();
  rmSync(certDir, { recursive: true, force: true });
});

describe('loss matrix, two nodes + Redis', () => {
  test('every disruption, concurrently: each publication once and in order with no resync, each request processed once and answered', async (t) => {
    const bin = requireBinary(t, 'redis-server');
    if (!bin) return;
    shared = await startRedis(bin);
    const token = signHs256(SECRET, { sub: 'loss-matrix-user', exp: now() + 3600 });
    const o = { certDir, ca: path.join(certDir, 'ca.pem'), jwtSecret: SECRET, token, redisBin: bin, shared };
    results = await Promise.all(chosen.map((s) => runClusterScenario(s, o)));
    console.log(`\n${clusterFullTable(results)}\n`);
    await subtestEach(t, results);
  });

  test('the README table matches this run', { skip: only ? 'LOSS_ONLY' : false }, (t) => {
    if (results.length === 0) return void t.skip('no run (redis-server missing)');
    const table = clusterReadmeTable(results);
    const text = readFileSync(README, 'utf8');
    if (process.env.UPDATE_LOSS_MATRIX === '1') {
      const old = documented(text, CLUSTER_START, CLUSTER_END);
      // New: right after the single-node table.
      const updated = old ? text.replace(old, table) : text.replace(END, `${END}\n\n${table}`);
      writeFileSync(README, updated);
    }
    assert.equal(documented(readFileSync(README, 'utf8'), CLUSTER_START, CLUSTER_END), table, 'the cluster loss matrix in README.md is stale: rerun with UPDATE_LOSS_MATRIX=1');
  });
});

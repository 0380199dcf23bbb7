// wss-mp benchmark suite: the orchestrator. Entry: `pnpm bench [--quick] [--mode a,b] [--runs N]
// [--duration S] [--targets a,b] [--profile] [--out FILE]` → test/bench/run.mjs → here.
// Method and caveats: test/bench/README.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createPki, issueLeaf } from '../support/certs';
import { findBinary } from '../support/binaries';
import { ROOT } from '../support/server';
import { runWindow, runIdle, type LoadResult } from './lib/loadgen';
import { makePlan, MODES, SERVER_MODES, type Mode, type Plan } from './lib/plan';
import { pinning, usableCores, HAVE_TASKSET } from './lib/proc';
import { spread, fmt } from './lib/stats';
import { compare, markdown, detailTable, type Comparison, type RunRecord, type Row } from './lib/report';
import { loadTlsPolicy } from './lib/tls-policy';
import { startTarget, startBurstTarget, BURST_TARGETS, BURST_FRAMES, TARGETS, TARGET_LABEL, nginxSiteSource, type RunningTarget, type TargetContext, type TargetName } from './lib/targets';
import { serverFlagsForBench, type BenchFlags } from './lib/server-flags';
import { runClientBench } from './client/client-bench';
import { runStorm } from './client/storm';
import { runMessagingBench } from './messaging/mode';
import { runFlood } from './flood/flood';
import { runRequestBench } from './messaging/request';
import { runClusterBench, MEMORY_ROOMS_PER_CONN } from './cluster/mode';
import { summarizeProfiles } from './lib/profile';
import { SCRAPE_INTERVAL_MS, type ScrapeTotals } from './lib/scraper';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    mode: { type: 'string' },
    runs: { type: 'string' },
    duration: { type: 'string' },
    targets: { type: 'string' },
    profile: { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(`pnpm bench [--quick] [--mode ${MODES.join(',')}] [--runs 3] [--duration 3]
           [--targets ${TARGETS.join(',')}] [--profile] [--out results/latest.json]`);
  process.exit(0);
}

const modes = (values.mode ? values.mode.split(',') : [...MODES]) as Mode[];
for (const m of modes) if (!MODES.includes(m)) throw new Error(`unknown mode ${m} (${MODES.join(', ')})`);
const targets = (values.targets ? values.targets.split(',') : [...TARGETS]) as TargetName[];
for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`unknown target ${t} (${TARGETS.join(', ')})`);
const plan: Plan = makePlan({
  quick: values.quick!,
  runs: values.runs ? Number(values.runs) : undefined,
  durationS: values.duration ? Number(values.duration) : undefined,
});
const resultsDir = path.join(HERE, 'results');
const outFile = path.resolve(values.out ?? path.join(resultsDir, values.quick ? 'quick.json' : 'latest.json'));
const profileDir = values.profile ? path.join(resultsDir, 'profiles', new Date().toISOString().replace(/[:.]/g, '-')) : null;
const pin = pinning();
const started = Date.now();
const log = (s: string) => console.log(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${s}`);

function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model;
  const nginx = findBinary('nginx');
  const nginxV = nginx ? spawnSync(nginx, ['-v'], { encoding: 'utf8' }).stderr.trim().replace('nginx version: ', '') : null;
  const wsPkg = JSON.parse(readFileSync(path.join(ROOT, 'test/node_modules/ws/package.json'), 'utf8'));
  return {
    cores: usableCores(),
    cpu,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    nodeOpenssl: process.versions.openssl,
    openssl: spawnSync('openssl', ['version'], { encoding: 'utf8' }).stdout.trim(),
    nginx: nginxV,
    ws: wsPkg.version,
    wsNativeUnmask: { server: wsUnmasksNatively('packages/server'), baseline: wsUnmasksNatively('test') },
    kernel: os.release(),
    taskset: HAVE_TASKSET,
    pinning: pin,
    loadavgStart: os.loadavg(),
  };
}

/**
 * Whether the `ws` a package resolves unmasks with bufferutil (native) or its JavaScript loop:
 * about 2 µs of server CPU per received KiB apart, so the two sides of a ratio must agree.
 * ws loads bufferutil from its own location unless WS_NO_BUFFER_UTIL is set.
 */
function wsUnmasksNatively(pkgDir: string): boolean {
  if (process.env.WS_NO_BUFFER_UTIL) return false;
  try {
    const req = createRequire(path.join(ROOT, pkgDir, 'package.json'));
    createRequire(req.resolve('ws')).resolve('bufferutil');
    return true;
  } catch {
    return false;
  }
}

async function main() {
  const mach = machine();
  log(`machine: ${mach.cores} cores, ${mach.cpu}, Node ${mach.node} (OpenSSL ${mach.nodeOpenssl}), load ${mach.loadavgStart.map((x) => x.toFixed(2)).join(' ')}`);
  log(`plan: ${plan.runs} run(s), modes ${modes.join(',')}, targets ${targets.join(',')}, window ${plan.durationMs} ms`);
  if (mach.loadavgStart[0]! > 0.5) log(`!!! the machine is busy (load ${mach.loadavgStart[0]!.toFixed(2)}): numbers will be noisy`);

  const pki = createPki('wss-mp-bench');
  const leaf = issueLeaf(pki, { hosts: ['localhost', '127.0.0.1'] });
  const certs = { fullchain: leaf.fullchain, key: leaf.key, ca: pki.caCert };
  const { policy, source: policySource } = await loadTlsPolicy();
  const flags = await serverFlagsForBench();
  log(`TLS policy from ${policySource}; wss-mp-server flags: ${flags.flags.join(' ') || '(none)'}`);
  const ctx: TargetContext = { certs, policy, core: pin.server, profileDir, serverFlags: flags.flags, coalesceOffFlag: flags.coalesceOffFlag };

  const runs: RunRecord[] = [];
  const errors: string[] = [];
  try {
    for (let run = 1; run <= plan.runs; run++) {
      const rec: RunRecord = { run, figures: {}, errors: [], raw: {} };
      runs.push(rec);
      const fail = (what: string, e: unknown) => {
        const msg = `run ${run} ${what}: ${(e as Error)?.message ?? e}`;
        rec.errors.push(msg);
        log(`!!! ${msg.split('\n').slice(0, 6).join('\n')}`);
      };
      // Starts target t, runs body against it, stops it; a target that does not start is an error.
      const withTarget = async (t: TargetName, body: (target: RunningTarget) => Promise<void>) => {
        let target;
        try {
          target = await startTarget(t, ctx);
        } catch (e) {
          fail(`start ${t}`, e);
          return;
        }
        try {
          await body(target);
        } finally {
          await target.stop();
          if (target.scraper) recordScrapes(rec, t, target.scraper.totals(), fail);
        }
      };

      // Server modes: each target fresh, all window modes against it, order rotated per run so no
      // target always goes first (or last) while the machine warms up.
      const serverModes = SERVER_MODES.filter((m) => modes.includes(m));
      if (serverModes.length) {
        const order = targets.map((_, i) => targets[(i + run - 1) % targets.length]!);
        for (const t of order) {
          await withTarget(t, async (target) => {
            for (const mode of serverModes) {
              const cfg =
                mode === 'pingpong'
                  ? { mode, conns: plan.pingpongConns, size: 32 }
                  : mode === 'throughput'
                    ? { mode, conns: plan.throughputConns, size: 1024, window: plan.throughputWindow }
                    : { mode, conns: plan.handshakeConcurrency };
              try {
                const scrapes0 = target.scraper?.totals().ok;
                const r = await runWindow(target, { ...cfg, warmupMs: plan.warmupMs, durationMs: plan.durationMs, localAddresses: plan.localAddresses }, certs.ca, pin.load);
                record(rec, mode, t, r);
                if (scrapes0 !== undefined) rec.figures[`${mode}.${t}.scrapes`] = target.scraper!.totals().ok - scrapes0;
                log(`run ${run} ${mode.padEnd(10)} ${t.padEnd(12)} ${summary(mode, r)}`);
              } catch (e) {
                fail(`${mode} ${t}`, e);
              }
            }
          });
        }
      }

      // Burst: one request answered by BURST_FRAMES frames, on servers with that hook (the CLI
      // only echoes): wss-mp-server's API with coalescing on and off, and the raw https + ws.
      if (modes.includes('burst')) {
        const burstTargets = BURST_TARGETS.filter((t) => targets.includes(t));
        const order = burstTargets.map((_, i) => burstTargets[(i + run - 1) % burstTargets.length]!);
        for (const t of order) {
          let target: RunningTarget;
          try {
            target = await startBurstTarget(t, ctx);
          } catch (e) {
            fail(`start burst ${t}`, e);
            continue;
          }
          try {
            const r = await runWindow(
              target,
              { mode: 'burst', conns: plan.pingpongConns, size: 32, burst: BURST_FRAMES, warmupMs: plan.warmupMs, durationMs: plan.durationMs, localAddresses: plan.localAddresses },
              certs.ca,
              pin.load,
            );
            record(rec, 'burst', t, r);
            log(`run ${run} burst      ${t.padEnd(12)} ${summary('burst', r)}`);
          } catch (e) {
            fail(`burst ${t}`, e);
          } finally {
            await target.stop();
          }
        }
      }

      if (modes.includes('idle')) {
        for (const t of plan.idleTargets.filter((x) => targets.includes(x as TargetName)) as TargetName[]) {
          await withTarget(t, async (target) => {
            try {
              const r = await runIdle(
                target,
                { mode: 'idle', conns: 0, idleSteps: plan.idleSteps, openConcurrency: 50, localAddresses: plan.localAddresses },
                certs.ca,
                pin.load,
                plan.idleSettleMs,
              );
              rec.raw[`idle.${t}`] = r;
              r.steps.forEach((s, i) => {
                rec.figures[`idle.${t}.rssPerConnKiB@${i}`] = s.rssPerConn / 1024;
                rec.figures[`idle.${t}.conns@${i}`] = s.conns;
              });
              log(`run ${run} idle       ${t.padEnd(12)} ${r.steps.map((s) => `${s.conns} conns: ${(s.rssPerConn / 1024).toFixed(1)} KiB/conn (opened in ${s.openSeconds.toFixed(1)} s, ${s.errors} errors)`).join('; ')}`);
            } catch (e) {
              fail(`idle ${t}`, e);
            }
          });
        }
      }

      if (modes.includes('client')) {
        try {
          const r = await runClientBench({ plan, ctx, loadCore: pin.load, run, log: (s) => log(`run ${run} client     ${s}`) });
          Object.assign(rec.figures, r.figures);
          rec.raw.client = r.raw;
        } catch (e) {
          fail('client', e);
        }
      }

      if (modes.includes('storm')) {
        const libs = (['wss-mp-client', 'reconnecting-websocket'] as const).filter((l) => run <= (l === 'wss-mp-client' ? plan.stormRuns : plan.stormRunsRws));
        for (const lib of libs) {
          try {
            const r = await runStorm({ lib, plan, ctx, loadCore: pin.load, log: (s) => log(`run ${run} storm      ${s}`) });
            Object.assign(rec.figures, r.figures);
            rec.raw[`storm.${lib}`] = r.raw;
          } catch (e) {
            fail(`storm ${lib}`, e);
          }
        }
      }

      if (modes.includes('messaging')) {
        try {
          const r = runMessagingBench(plan, (s) => log(`run ${run} messaging  ${s}`));
          Object.assign(rec.figures, r.figures);
          rec.raw.messaging = r.raw;
        } catch (e) {
          fail('messaging', e);
        }
      }
      // `request` is the messaging mode's request/ack row alone (seconds, where fan-out and recovery take minutes).
      if (modes.includes('messaging') || modes.includes('request')) {
        try {
          const r = await runRequestBench({ plan, ctx, loadCore: pin.load, run, log: (s) => log(`run ${run} messaging  request/ack vs echo: ${s}`) });
          Object.assign(rec.figures, r.figures);
          rec.raw.request = r.raw;
        } catch (e) {
          fail('messaging request/ack', e);
        }
      }

      if (modes.includes('flood')) {
        try {
          const r = await runFlood({ plan, ctx, loadCore: pin.load, run, log: (s) => log(`run ${run} flood      ${s}`) });
          Object.assign(rec.figures, r.figures);
          rec.raw.flood = r.raw;
        } catch (e) {
          fail('flood', e);
        }
      }

      if (modes.includes('cluster') && run <= plan.clusterRuns) {
        try {
          await runClusterBench({ plan, ctx, rec, loadCore: pin.load, log: (s) => log(`run ${run} cluster    ${s}`) });
        } catch (e) {
          fail('cluster', e);
        }
      }

      if (modes.includes('detect')) {
        try {
          await runDetect(rec, ctx, flags);
        } catch (e) {
          fail('detect', e);
        }
      }
      errors.push(...rec.errors);
    }
  } finally {
    pki.cleanup();
  }

  const rows = comparisons().map((c) => compare(runs, c));
  const md = renderMarkdown(rows, runs, mach, policySource, flags);
  console.log('\n' + md);
  const result = {
    date: new Date().toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    machine: { ...mach, loadavgEnd: os.loadavg() },
    command: `pnpm bench ${process.argv.slice(2).join(' ')}`.trim(),
    plan,
    modes,
    targets,
    tlsPolicy: { source: policySource, policy },
    serverFlags: flags,
    nginxSite: nginxSiteSource,
    rows,
    runs,
    errors,
  };
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(outFile.replace(/\.json$/, '.md'), md + '\n');
  log(`wrote ${path.relative(process.cwd(), outFile)} and .md (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  if (profileDir && existsSync(profileDir)) console.log('\n' + summarizeProfiles(profileDir));
  const misses = rows.filter((r) => r.verdict === 'MISS').length;
  log(`${rows.filter((r) => r.verdict === 'PASS').length} PASS, ${misses} MISS, ${rows.filter((r) => r.verdict === 'SKIP').length} SKIP, ${errors.length} error(s)`);
  // Exit 0 even on MISS: a benchmark reports; the table says what missed. Errors (a mode that
  // could not run at all) exit 1 so the smoke test notices a broken harness.
  process.exitCode = errors.length ? 1 : 0;
}

function record(rec: RunRecord, mode: string, t: string, r: LoadResult) {
  const f = rec.figures;
  const k = (m: string) => `${mode}.${t}.${m}`;
  rec.raw[`${mode}.${t}`] = r;
  f[k('serverCpuUtil')] = r.serverCpuUtil;
  if (mode === 'pingpong') {
    f[k('msgsPerSec')] = r.msgsPerSec as number;
    f[k('rttP50Ms')] = r.rttP50Ms as number;
    f[k('rttP99Ms')] = r.rttP99Ms as number;
    f[k('rttMaxMs')] = r.rttMaxMs as number;
    f[k('cpuUsPerMsg')] = (r.msgs as number) > 0 ? (r.serverCpuSeconds * 1e6) / (r.msgs as number) : null;
  } else if (mode === 'throughput') {
    f[k('mbPerSec')] = r.mbPerSec as number;
    f[k('cpuUsPerKiB')] = (r.bytes as number) > 0 ? (r.serverCpuSeconds * 1e6) / ((r.bytes as number) / 1024) : null;
    // Messages are 1 KiB: per message is per KiB; kept separately so the ladder reads per message.
    f[k('cpuUsPerMsg')] = f[k('cpuUsPerKiB')]!;
  } else if (mode === 'burst') {
    f[k('framesPerSec')] = r.msgsPerSec as number;
    f[k('requestsPerSec')] = r.requestsPerSec as number;
    f[k('rttP50Ms')] = r.rttP50Ms as number;
    f[k('rttP99Ms')] = r.rttP99Ms as number;
    f[k('cpuUsPerMsg')] = (r.msgs as number) > 0 ? (r.serverCpuSeconds * 1e6) / (r.msgs as number) : null;
  } else if (mode === 'handshake') {
    f[k('handshakesPerSec')] = r.handshakesPerSec as number;
    f[k('cpuMsPerHandshake')] = (r.handshakes as number) > 0 ? (r.serverCpuSeconds * 1e3) / (r.handshakes as number) : null;
    f[k('errors')] = r.errors as number;
  } else if (mode === 'detect') {
    f[k('msgsPerSec')] = r.msgsPerSec as number;
  }
}

/** native-metrics: every scrape must have answered with our metrics, and at least one must have run. */
function recordScrapes(rec: RunRecord, t: string, s: ScrapeTotals, fail: (what: string, e: unknown) => void) {
  rec.raw[`scrapes.${t}`] = s;
  rec.figures[`metrics.${t}.scrapesOk`] = s.ok;
  rec.figures[`metrics.${t}.scrapesFailed`] = s.failed;
  rec.figures[`metrics.${t}.scrapeBytes`] = s.lastBytes;
  if (s.failed > 0 || s.ok === 0) fail(`scraping ${t}`, new Error(`${s.ok} scrapes answered, ${s.failed} failed${s.firstError ? ` (first: ${s.firstError})` : ''}`));
}

function summary(mode: string, r: LoadResult): string {
  const cpu = `server CPU ${(r.serverCpuUtil * 100).toFixed(0)} %`;
  if (mode === 'pingpong')
    return `${Math.round(r.msgsPerSec as number)} msgs/s, p50 ${(r.rttP50Ms as number)?.toFixed(2)} p99 ${(r.rttP99Ms as number)?.toFixed(2)} max ${(r.rttMaxMs as number)?.toFixed(1)} ms, ${cpu}`;
  if (mode === 'throughput') return `${(r.mbPerSec as number).toFixed(1)} MB/s, ${cpu}`;
  if (mode === 'burst')
    return `${Math.round(r.requestsPerSec as number)} requests/s (${Math.round(r.msgsPerSec as number)} frames/s), p50 ${(r.rttP50Ms as number)?.toFixed(2)} p99 ${(r.rttP99Ms as number)?.toFixed(2)} ms, server CPU ${((r.serverCpuSeconds * 1e6) / (r.msgs as number)).toFixed(2)} µs/frame, ${cpu}`;
  return `${Math.round(r.handshakesPerSec as number)} handshakes/s (${r.errors} errors), ${cpu}`;
}

/**
 * Plain-HTTP detection on the TLS port: native pingpong with the detection on vs off, if the
 * server has a flag for it (opt-out `--no-...` or opt-in). Without one, nothing to compare.
 */
async function runDetect(rec: RunRecord, ctx: TargetContext, flags: BenchFlags) {
  const variants: [string, string[]][] | null = flags.detectOffFlag
    ? [['on', []], ['off', [flags.detectOffFlag]]]
    : flags.detectOnFlag
      ? [['on', [flags.detectOnFlag]], ['off', []]]
      : null;
  if (!variants) {
    rec.raw.detect = NO_DETECT_FLAG;
    return;
  }
  for (const [name, extra] of variants) {
    const target = await startTarget('native', { ...ctx, extraNativeFlags: extra });
    try {
      const r = await runWindow(target, { mode: 'pingpong', conns: plan.pingpongConns, size: 32, warmupMs: plan.warmupMs, durationMs: plan.durationMs, localAddresses: plan.localAddresses }, ctx.certs.ca, pin.load);
      rec.figures[`detect.${name}.msgsPerSec`] = r.msgsPerSec as number;
      rec.figures[`detect.${name}.cpuUsPerMsg`] = (r.serverCpuSeconds * 1e6) / (r.msgs as number);
      log(`run ${rec.run} detect     ${name.padEnd(12)} ${summary('pingpong', r)}`);
    } finally {
      await target.stop();
    }
  }
}

const NO_DETECT_FLAG =
  'not measured: wss-mp-server has no flag to turn the plain-HTTP detection off. By construction it costs the normal ' +
  'path nothing (it runs only inside the tlsClientError handler, no first-byte sniffing; see packages/server/src/server/plain-http.ts), ' +
  'and the native-vs-raw rows include it.';

function comparisons(): Comparison[] {
  const N = 'native';
  const H = 'https-ws';
  const c: Comparison[] = [
    { label: 'pingpong msgs/s', ours: `pingpong.${N}.msgsPerSec`, base: `pingpong.${H}.msgsPerSec`, op: '>=', limit: 0.95 },
    { label: 'pingpong p99 RTT ms', ours: `pingpong.${N}.rttP99Ms`, base: `pingpong.${H}.rttP99Ms`, op: '<=', limit: 1.1 },
    { label: 'pingpong p50 RTT ms', ours: `pingpong.${N}.rttP50Ms`, base: `pingpong.${H}.rttP50Ms`, op: 'info' },
    { label: 'pingpong max RTT ms', ours: `pingpong.${N}.rttMaxMs`, base: `pingpong.${H}.rttMaxMs`, op: 'info' },
    { label: 'pingpong server CPU µs/msg', ours: `pingpong.${N}.cpuUsPerMsg`, base: `pingpong.${H}.cpuUsPerMsg`, op: 'info', note: 'lower is better' },
    { label: 'throughput MB/s', ours: `throughput.${N}.mbPerSec`, base: `throughput.${H}.mbPerSec`, op: '>=', limit: 0.95 },
    { label: 'throughput server CPU µs/msg (1 KiB)', ours: `throughput.${N}.cpuUsPerMsg`, base: `throughput.${H}.cpuUsPerMsg`, op: '<=', limit: 0.85, note: 'coalesced writes' },
    { label: 'burst (1 request → 10 frames) server CPU µs/frame', ours: `burst.${N}.cpuUsPerMsg`, base: `burst.${H}.cpuUsPerMsg`, op: 'info', note: 'lower is better' },
    { label: 'burst requests/s', ours: `burst.${N}.requestsPerSec`, base: `burst.${H}.requestsPerSec`, op: 'info' },
    { label: 'burst p99 ms (request → 10th frame)', ours: `burst.${N}.rttP99Ms`, base: `burst.${H}.rttP99Ms`, op: 'info' },
    { label: 'coalescing on vs off: pingpong server CPU µs/msg', ours: `pingpong.${N}.cpuUsPerMsg`, base: `pingpong.native-nocork.cpuUsPerMsg`, op: 'info' },
    { label: 'coalescing on vs off: throughput server CPU µs/msg', ours: `throughput.${N}.cpuUsPerMsg`, base: `throughput.native-nocork.cpuUsPerMsg`, op: 'info' },
    { label: 'coalescing on vs off: burst server CPU µs/frame', ours: `burst.${N}.cpuUsPerMsg`, base: `burst.native-nocork.cpuUsPerMsg`, op: 'info' },
    { label: 'handshakes/s', ours: `handshake.${N}.handshakesPerSec`, base: `handshake.${H}.handshakesPerSec`, op: '>=', limit: 0.9 },
    { label: 'handshake server CPU ms', ours: `handshake.${N}.cpuMsPerHandshake`, base: `handshake.${H}.cpuMsPerHandshake`, op: 'info', note: 'lower is better' },
    ...metricsComparisons(),
    { label: '--workers 2 vs 1: pingpong msgs/s', ours: 'pingpong.native-w2.msgsPerSec', base: `pingpong.${N}.msgsPerSec`, op: 'info', note: '2 cores shared with the load generator' },
    { label: '--workers 2 vs 1: handshakes/s', ours: 'handshake.native-w2.handshakesPerSec', base: `handshake.${N}.handshakesPerSec`, op: 'info', note: '2 cores shared with the load generator' },
  ];
  plan.fanoutSubscribers.forEach((n, i) =>
    c.push(
      { label: `fan-out to ${n.toLocaleString('en-US')}: deliveries/s`, ours: `messaging.fanout.ours.deliveriesPerSec@${i}`, base: `messaging.fanout.raw.deliveriesPerSec@${i}`, baseLabel: 'bare ws loop, same bytes', op: '>=', limit: 0.9 },
      { label: `fan-out to ${n.toLocaleString('en-US')}: p99 publish → receive ms`, ours: `messaging.fanout.ours.p99Ms@${i}`, base: `messaging.fanout.raw.p99Ms@${i}`, baseLabel: 'bare ws loop, same bytes', op: 'info', note: 'lower is better' },
    ),
  );
  plan.idleSteps.forEach((n, i) =>
    c.push({ label: `idle RSS KiB/conn @ ${n.toLocaleString('en-US')}`, ours: `idle.${N}.rssPerConnKiB@${i}`, base: `idle.${H}.rssPerConnKiB@${i}`, op: '<=', limit: 1.1 }),
  );
  c.push(
    { label: 'behind nginx: pingpong msgs/s', ours: 'pingpong.nginx-native.msgsPerSec', base: 'pingpong.nginx-ws.msgsPerSec', op: '>=', limit: 0.95 },
    { label: 'behind nginx: throughput MB/s', ours: 'throughput.nginx-native.mbPerSec', base: 'throughput.nginx-ws.mbPerSec', op: '>=', limit: 0.95 },
    { label: 'behind nginx: handshakes/s', ours: 'handshake.nginx-native.handshakesPerSec', base: 'handshake.nginx-ws.handshakesPerSec', op: '>=', limit: 0.95 },
    { label: 'behind nginx: server CPU µs/msg', ours: 'pingpong.nginx-native.cpuUsPerMsg', base: 'pingpong.nginx-ws.cpuUsPerMsg', op: 'info', note: 'nginx + backend, lower is better' },
    { label: 'client msgs/s (SDK vs raw wx shim)', ours: 'client.sdk.msgsPerSec', base: 'client.raw.msgsPerSec', baseLabel: 'raw SocketTask (wx shim)', op: '>=', limit: 0.9 },
    { label: 'client memory KiB/instance (connected)', ours: 'client.sdk.kibPerInstance', base: 'client.raw.kibPerInstance', baseLabel: 'raw SocketTask (wx shim)', op: 'info' },
    { label: 'client heap KiB/instance (connected)', ours: 'client.sdk.heapKibPerInstance', base: 'client.raw.heapKibPerInstance', baseLabel: 'raw SocketTask (wx shim)', op: 'info' },
    { label: 'storm: s until 99 % back (after restart)', ours: 'storm.wss-mp-client.backSeconds', base: null, op: '<=', limit: 'storm.wss-mp-client.limitSeconds', unit: 's', note: 'max backoff + 5 s' },
    { label: 'storm: peak attempts / 100 ms', ours: 'storm.wss-mp-client.peakAttempts100ms', base: null, op: '<=', limit: 'storm.wss-mp-client.peakLimit', unit: '', note: '≤ 10 % of clients' },
    { label: 'storm: queued messages lost or reordered', ours: 'storm.wss-mp-client.lost', base: null, op: '<=', limit: 0, unit: '' },
    { label: 'storm (RWS 4.4.0): s until 99 % back', ours: 'storm.reconnecting-websocket.backSeconds', base: null, op: 'info' },
    { label: 'storm (RWS 4.4.0): peak attempts / 100 ms', ours: 'storm.reconnecting-websocket.peakAttempts100ms', base: null, op: 'info' },
    { label: 'storm (RWS 4.4.0): queued messages lost or reordered', ours: 'storm.reconnecting-websocket.lost', base: null, op: 'info' },
    { label: 'recovery: s until all clients are back and caught up', ours: 'messaging.recovery.seconds', base: null, op: 'info', unit: 's', note: `${plan.recoveryClients.toLocaleString('en-US')} clients cut at once, 20 publications/s` },
    { label: 'recovery: publications replayed from history', ours: 'messaging.recovery.replayed', base: null, op: 'info', unit: '' },
    { label: 'recovery: publications lost, twice or resynced', ours: 'messaging.recovery.lostOrTwice', base: null, op: '<=', limit: 0, unit: '' },
    { label: 'request/ack vs plain echo: server CPU µs/msg', ours: 'messaging.request.reqAckCpuUsPerMsg', base: 'messaging.request.echoCpuUsPerMsg', baseLabel: 'plain echo, same server', op: '<=', limit: 1.2, note: `${plan.pingpongConns} connections × 1 in flight, same frames` },
    { label: 'request/ack vs plain echo: msgs/s', ours: 'messaging.request.reqAckPerSec', base: 'messaging.request.echoPerSec', baseLabel: 'plain echo, same server', op: 'info' },
    ...floodComparisons(),
    { label: `cross-node fan-out to ${plan.clusterFanoutSubscribers.toLocaleString('en-US')}: deliveries/s`, ours: 'cluster.fanout.redis2.deliveriesPerSec', base: 'cluster.fanout.single.deliveriesPerSec', baseLabel: 'one node, no Redis', op: 'info', note: 'subscribers split over 2 nodes + Redis, published on one' },
    { label: `cross-node fan-out to ${plan.clusterFanoutSubscribers.toLocaleString('en-US')}: p99 publish → receive ms`, ours: 'cluster.fanout.redis2.p99Ms', base: 'cluster.fanout.single.p99Ms', baseLabel: 'one node, no Redis', op: 'info', note: 'lower is better' },
    { label: 'node kill: s until its clients are back and all caught up', ours: 'cluster.nodeKill.seconds', base: null, op: 'info', unit: 's', note: `${plan.nodeKillClients.toLocaleString('en-US')} clients on 2 nodes + Redis, 20 publications/s` },
    { label: 'node kill: clients moved to the other node', ours: 'cluster.nodeKill.moved', base: null, op: 'info', unit: '' },
    { label: 'node kill: publications replayed from the Redis history', ours: 'cluster.nodeKill.replayed', base: null, op: 'info', unit: '' },
    { label: 'node kill: publications lost, twice or resynced', ours: 'cluster.nodeKill.lostOrTwice', base: null, op: '<=', limit: 0, unit: '' },
  );
  plan.idleSteps.forEach((n, i) =>
    c.push(
      { label: `memory with users: KiB/conn @ ${n.toLocaleString('en-US')}`, ours: `cluster.memory.users.rssPerConnKiB@${i}`, base: `idle.${H}.rssPerConnKiB@${i}`, baseLabel: 'node:https + ws, idle', op: 'info', note: `JWT users, ${1 + MEMORY_ROOMS_PER_CONN} channels each, lower is better` },
      { label: `memory with users: connections per GiB @ ${n.toLocaleString('en-US')}`, ours: `cluster.memory.users.connsPerGiB@${i}`, base: `cluster.memory.${H}.connsPerGiB@${i}`, baseLabel: 'node:https + ws, idle', op: 'info' },
      { label: `memory with users vs our idle: connections per GiB @ ${n.toLocaleString('en-US')}`, ours: `cluster.memory.users.connsPerGiB@${i}`, base: `cluster.memory.native.connsPerGiB@${i}`, baseLabel: 'wss-mp-server, idle (no users)', op: 'info' },
    ),
  );
  c.push(
    { label: 'plain-HTTP detection cost: msgs/s on vs off', ours: 'detect.on.msgsPerSec', base: 'detect.off.msgsPerSec', baseLabel: 'detection off', op: '>=', limit: 0.98 },
    // Context: what TLS costs, and the ceiling.
    { label: 'context: pingpong msgs/s, https+ws vs http+ws', ours: `pingpong.${H}.msgsPerSec`, base: 'pingpong.http-ws.msgsPerSec', op: 'info' },
    { label: 'context: pingpong msgs/s, tls byte echo vs https+ws', ours: 'pingpong.tls-echo.msgsPerSec', base: `pingpong.${H}.msgsPerSec`, op: 'info' },
    { label: 'context: throughput MB/s, tls byte echo vs https+ws', ours: 'throughput.tls-echo.mbPerSec', base: `throughput.${H}.mbPerSec`, op: 'info' },
  );
  return c;
}

/** Issue 16: well-behaved clients' round trips with flooders limited and cut by the default rate limits, vs none. */
function floodComparisons(): Comparison[] {
  const base = 'flood.unloaded';
  const baseLabel = 'same clients, no flooder';
  const who = `${plan.floodSteadyClients} clients, ${plan.flooders} flooder${plan.flooders > 1 ? 's' : ''}`;
  return [
    { label: 'flood: other clients\' p99 request → ack ms', ours: 'flood.flooded.rttP99Ms', base: `${base}.rttP99Ms`, baseLabel, op: '<=', limit: 1.2, note: who },
    { label: 'flood: other clients\' p50 request → ack ms', ours: 'flood.flooded.rttP50Ms', base: `${base}.rttP50Ms`, baseLabel, op: 'info' },
    { label: 'flood: server CPU (1 = a core)', ours: 'flood.flooded.serverCpuUtil', base: `${base}.serverCpuUtil`, baseLabel, op: 'info' },
    { label: 'flood: flooders cut with 4029 (rate limited)', ours: 'flood.cuts4029', base: null, op: 'info', unit: '', note: 'warm-up + window' },
    { label: 'flood: flooders cut with another code', ours: 'flood.cutsOther', base: null, op: 'info', unit: '' },
    { label: 'flood: other clients limited or cut', ours: 'flood.flooded.steadyHarmed', base: null, op: '<=', limit: 0, unit: '' },
  ];
}

/** Issue 16: metrics on (admin listener, /metrics scraped every second) vs off, same run. */
function metricsComparisons(): Comparison[] {
  const on = 'native-metrics';
  const off = 'native';
  const note = `/metrics scraped every ${SCRAPE_INTERVAL_MS / 1000} s`;
  return [
    { label: 'metrics on vs off: pingpong msgs/s', ours: `pingpong.${on}.msgsPerSec`, base: `pingpong.${off}.msgsPerSec`, baseLabel: 'metrics off', op: '>=', limit: 0.97, note },
    { label: 'metrics on vs off: handshakes/s', ours: `handshake.${on}.handshakesPerSec`, base: `handshake.${off}.handshakesPerSec`, baseLabel: 'metrics off', op: '>=', limit: 0.97, note },
    { label: 'metrics on vs off: pingpong server CPU µs/msg', ours: `pingpong.${on}.cpuUsPerMsg`, base: `pingpong.${off}.cpuUsPerMsg`, baseLabel: 'metrics off', op: 'info', note: 'lower is better' },
    { label: 'metrics on vs off: handshake server CPU ms', ours: `handshake.${on}.cpuMsPerHandshake`, base: `handshake.${off}.cpuMsPerHandshake`, baseLabel: 'metrics off', op: 'info', note: 'lower is better' },
  ];
}

/**
 * Server CPU per message from the floor up: raw node:tls byte echo, raw ws over node:https,
 * wss-mp-server with coalescing off and on; median over runs (min–max), and the ratio to raw
 * ws (median of per-run ratios).
 */
function ladder(runs: RunRecord[]): string {
  const cols = ['tls-echo', 'https-ws', 'native-nocork', 'native'] as const;
  const rows: [string, string][] = [
    ['pingpong', 'pingpong: 32 B text, one in flight × 64 connections — µs/msg'],
    ['throughput', 'throughput: 1 KiB binary, 16 in flight × 8 connections — µs/msg'],
    ['burst', `burst: 32 B request → ${BURST_FRAMES} frames × 64 connections — µs/frame`],
  ];
  const present = rows.filter(([m]) => cols.some((t) => runs.some((r) => r.figures[`${m}.${t}.cpuUsPerMsg`] != null)));
  if (!present.length) return '';
  const out = [
    '**Server CPU per message** (median (min–max) over runs; × = ratio to raw ws in the same run, median):',
    '',
    `| work | ${cols.map((t) => TARGET_LABEL[t]).join(' | ')} |`,
    `|---|${cols.map(() => '---|').join('')}`,
  ];
  for (const [m, label] of present) {
    const cells = cols.map((t) => {
      const s = spread(runs.map((r) => r.figures[`${m}.${t}.cpuUsPerMsg`]));
      if (s.median == null) return 'n/a';
      const ratio = spread(runs.map((r) => {
        const a = r.figures[`${m}.${t}.cpuUsPerMsg`];
        const b = r.figures[`${m}.https-ws.cpuUsPerMsg`];
        return a != null && b != null && b > 0 ? a / b : null;
      })).median;
      const range = s.n > 1 ? ` (${fmt(s.min)}–${fmt(s.max)})` : '';
      return `${fmt(s.median)}${range}${ratio != null && t !== 'https-ws' ? ` · ${fmt(ratio)}×` : ''}`;
    });
    out.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  return out.join('\n');
}

function renderMarkdown(rows: Row[], runs: RunRecord[], mach: ReturnType<typeof machine>, policySource: string, flags: Awaited<ReturnType<typeof serverFlagsForBench>>): string {
  const shown = rows.filter((r) => r.ours.n > 0 || (r.base && r.base.n > 0));
  const busy = mach.loadavgStart[0]! > 0.5 || os.loadavg()[0]! > 1.5;
  const head = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · ${mach.cores} cores (${mach.cpu}) · Node ${mach.node} (OpenSSL ${mach.nodeOpenssl}) · ${mach.openssl} · nginx ${mach.nginx ?? 'n/a'} · ws ${mach.ws} (native unmask: server ${mach.wsNativeUnmask.server ? 'yes' : 'no'}, baselines ${mach.wsNativeUnmask.baseline ? 'yes' : 'no'})`,
    `${runs.length} run(s); figures are the median (min–max) over runs, ratios are per run against the same run's baseline, then the median. Server on core ${pinning().server ?? 'any'}, load generator on core ${pinning().load ?? 'any'}. TLS policy: ${policySource}.` +
      (flags.flags.length ? ` wss-mp-server flags: \`${flags.flags.join(' ')}\`.` : '') +
      (nginxSiteSource !== 'not started' ? ` nginx site: ${nginxSiteSource} (one worker, no access log).` : ''),
  ];
  if (busy) head.push(`**Busy machine:** load average ${mach.loadavgStart.map((x) => x.toFixed(2)).join(' ')} at start, ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at end — other work shared the cores; treat the numbers as noisy.`);
  const details = [
    detailTable(runs, 'pingpong', [...TARGETS], [['msgsPerSec', 'msgs/s'], ['rttP50Ms', 'p50 ms'], ['rttP99Ms', 'p99 ms'], ['rttMaxMs', 'max ms'], ['cpuUsPerMsg', 'server CPU µs/msg'], ['serverCpuUtil', 'server CPU (1 = a core)']]),
    detailTable(runs, 'throughput', [...TARGETS], [['mbPerSec', 'MB/s'], ['cpuUsPerKiB', 'server CPU µs/KiB'], ['serverCpuUtil', 'server CPU (1 = a core)']]),
    detailTable(runs, 'burst', [...BURST_TARGETS], [['requestsPerSec', 'requests/s'], ['framesPerSec', 'frames/s'], ['rttP50Ms', 'p50 ms'], ['rttP99Ms', 'p99 ms'], ['cpuUsPerMsg', 'server CPU µs/frame'], ['serverCpuUtil', 'server CPU (1 = a core)']]),
    detailTable(runs, 'handshake', [...TARGETS], [['handshakesPerSec', 'handshakes/s'], ['cpuMsPerHandshake', 'server CPU ms/handshake'], ['serverCpuUtil', 'server CPU (1 = a core)'], ['errors', 'errors']]),
    detailTable(runs, 'idle', [...TARGETS], plan.idleSteps.map((n, i) => [`rssPerConnKiB@${i}`, `KiB/conn @ ${n}`] as [string, string])),
  ].filter(Boolean);
  const errs = runs.flatMap((r) => r.errors);
  return [
    head.join('\n\n'),
    markdown(shown),
    ladder(runs),
    details.length ? '<details><summary>All targets</summary>\n\n' + details.join('\n\n') + '\n\n</details>' : '',
    modes.includes('detect') && !flags.detectOffFlag && !flags.detectOnFlag ? `Plain-HTTP detection cost: ${NO_DETECT_FLAG}` : '',
    errs.length ? '**Errors:**\n' + errs.map((e) => `- ${e.split('\n')[0]}`).join('\n') : '',
  ]
    .filter(Boolean)
    .join('\n\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

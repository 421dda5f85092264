// Scale-out on loopback: throughput of 1, 2 and 3 `crossgate serve` replicas behind HAProxy (health check
// /ready), beside one replica reached directly (the peer: what the balancer costs), then a failure run under
// load (one replica drained with SIGTERM, one SIGKILLed) with two retry policies, counting what clients saw.
//   npx tsc -p . && node dist/benchmarks/replicas.js [--seconds S] [--concurrency C] [--out FILE]
// Needs haproxy (apt-get install haproxy). Load goes only to 127.0.0.1 and stops after --seconds per step.
// Not in `npm run bench`: it needs HAProxy and starts processes; on a machine with fewer cores than replicas
// the replicas share cores, so the numbers say what the balancer costs there, not how far replicas scale.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { describeMachine, loadNow, machineInfo } from './lib/machine.js';
import { closedLoop, DEFAULT_RETRY_ON, drainWhileBusy, haproxyVersion, startHaproxy, startReplica, type Replica, type RequestRecord } from './lib/replicas.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`--${name} is "${process.argv[i + 1]}"; expected a positive number`);
  return v;
}

const SECONDS = arg('seconds', 5);
const CONCURRENCY = arg('concurrency', 8);
const OUT_INDEX = process.argv.indexOf('--out');
const OUT = OUT_INDEX >= 0 ? process.argv[OUT_INDEX + 1] : undefined;

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

interface Step { label: string; replicas: number; balancer: boolean; requests: number; errors: number; rps: number; p50ms: number; p99ms: number }

function summarise(label: string, replicas: number, balancer: boolean, recs: RequestRecord[], seconds: number): Step {
  const ok = recs.filter((r) => r.error === null);
  const lat = ok.map((r) => r.end - r.start);
  return { label, replicas, balancer, requests: recs.length, errors: recs.length - ok.length, rps: ok.length / seconds, p50ms: pct(lat, 50), p99ms: pct(lat, 99) };
}

async function stopAll(rs: Replica[]): Promise<void> {
  for (const r of rs) {
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
  }
}

async function timed(url: string, seconds: number): Promise<RequestRecord[]> {
  const until = performance.now() + seconds * 1000;
  return closedLoop(url, { concurrency: CONCURRENCY, stop: () => performance.now() >= until, deadlineMs: seconds * 1000 + 30_000 });
}

async function main(): Promise<void> {
  const hv = haproxyVersion();
  if (!hv) throw new Error('haproxy is not installed; apt-get install haproxy (.ci/run does)');
  const root = await mkdtemp(join(tmpdir(), 'crossgate-bench-replicas-'));
  const model = await ensureGenerated('tiny-cross', { root: join(root, 'models') });
  const m = machineInfo();
  console.log(describeMachine(m));
  console.log(`balancer: ${hv}; replicas: crossgate serve --workers 1 --threads 1 each, model tiny-cross (random weights: a load shape, not a quality)`);
  console.log(`load: ${CONCURRENCY} closed-loop keep-alive clients, POST /rerank with 32 passages of ~200 tokens, ${SECONDS} s per step, 127.0.0.1 only`);
  const steps: Step[] = [];
  try {
    // The peer: one replica, no balancer.
    {
      const r = await startReplica('direct', model);
      try {
        await timed(`http://127.0.0.1:${r.port}`, 1); // warm-up
        steps.push(summarise('1 replica, direct (peer)', 1, false, await timed(`http://127.0.0.1:${r.port}`, SECONDS), SECONDS));
      } finally {
        await stopAll([r]);
      }
    }
    for (const n of [1, 2, 3]) {
      const rs = await Promise.all(Array.from({ length: n }, (_, i) => startReplica(`r${i + 1}`, model)));
      const lb = await startHaproxy(rs);
      try {
        await timed(lb.url, 1);
        steps.push(summarise(`${n} replica(s) behind haproxy`, n, true, await timed(lb.url, SECONDS), SECONDS));
      } finally {
        await lb.stop();
        await stopAll(rs);
      }
    }
    const base = steps[0].rps;
    console.log('\nthroughput (successful requests/s) and latency:');
    for (const s of steps) {
      console.log(`  ${s.label.padEnd(30)} ${s.rps.toFixed(1).padStart(7)} req/s  p50 ${s.p50ms.toFixed(1)} ms  p99 ${s.p99ms.toFixed(1)} ms  errors ${s.errors}/${s.requests}  ratio to peer ${(s.rps / base).toFixed(2)}x`);
    }

    // Failures under load, 3 replicas: drain r2 at 1/3 of the run, kill r1 at 2/3.
    console.log('\nfailures under load (3 replicas; SIGTERM r2 while busy at 1/3 of the run, SIGKILL r1 at 2/3):');
    const failures = [];
    for (const retryOn of [DEFAULT_RETRY_ON, 'conn-failure 503']) {
      const rs = await Promise.all([1, 2, 3].map((i) => startReplica(`r${i}`, model)));
      const lb = await startHaproxy(rs, { retryOn });
      try {
        await timed(lb.url, 1);
        const t0 = performance.now();
        const total = Math.max(3, SECONDS) * 1000;
        let drainAt = 0;
        let killAt = 0;
        const drainTimer = setTimeout(() => void drainWhileBusy(rs[1]).then(() => { drainAt = performance.now(); }), total / 3);
        const killTimer = setTimeout(() => { killAt = performance.now(); rs[0].child.kill('SIGKILL'); }, (2 * total) / 3);
        const recs = await closedLoop(lb.url, { concurrency: CONCURRENCY, stop: () => performance.now() - t0 >= total, deadlineMs: total + 30_000 });
        clearTimeout(drainTimer);
        clearTimeout(killTimer);
        const drainExit = await rs[1].exited;
        const drained = /draining (\d+) in-flight/.exec(rs[1].log())?.[1] ?? '?';
        const errs = recs.filter((r) => r.error !== null);
        const duringDrain = errs.filter((r) => r.end >= drainAt && r.end < killAt).length;
        const atKill = errs.filter((r) => r.end >= killAt).length;
        const row = { retryOn, requests: recs.length, drainedInFlight: drained, drainExit: drainExit.code, errorsBeforeDrain: errs.filter((r) => r.end < drainAt).length, errorsDuringDrain: duringDrain, errorsAfterKill: atKill, kinds: [...new Set(errs.map((e) => e.error))] };
        failures.push(row);
        console.log(`  retry-on "${retryOn}": ${recs.length} requests; r2 drained ${drained} in flight and exited ${drainExit.code}; client errors: ${row.errorsBeforeDrain} before the drain, ${duringDrain} during it, ${atKill} at/after the kill${row.kinds.length ? ` (${row.kinds.join('; ')})` : ''}`);
      } finally {
        await lb.stop();
        await stopAll(rs);
      }
    }
    console.log(`\nload average after: ${loadNow().join(' / ')}`);
    if (OUT) await writeFile(OUT, JSON.stringify({ machine: m, balancer: hv, concurrency: CONCURRENCY, seconds: SECONDS, steps, failures }, null, 2) + '\n');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});

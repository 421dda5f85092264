// Three `crossgate serve` replicas behind a real HAProxy that health-checks /ready, under a closed-loop load:
// one replica is drained with SIGTERM (clients must lose nothing), then another is SIGKILLed (only requests
// in flight at that instant may fail), and the last one carries the rest.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { closedLoop, queuedTokens, startHaproxy, startReplica, type Balancer, type Replica, type RequestRecord } from '../benchmarks/lib/replicas.js';

const CONCURRENCY = 8;
/** Successful requests per phase: enough for every replica to have been used, bounded so the test stays short. */
const PER_PHASE = 150;
/** The request in flight on the drained replica: ~60k tokens, several batches on one worker. */
const LONG_PASSAGES = 300;
const LONG_BODY = JSON.stringify({ query: 'how do I reset my password', texts: Array.from({ length: LONG_PASSAGES }, (_, i) => `passage ${i} about passwords, accounts and lunch. `.repeat(24)) });
/** Queued tokens on b that only the long request can account for (a balanced request is ~6k). */
const LONG_QUEUED = 30_000;

describe('replicas behind HAProxy (loopback)', () => {
  let root: string;
  let replicas: Replica[] = [];
  let lb: Balancer;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-replicas-'));
    const model = await ensureGenerated('tiny-cross', { root: join(root, 'models') });
    replicas = await Promise.all(['a', 'b', 'c'].map((n) => startReplica(n, model)));
    lb = await startHaproxy(replicas);
  });
  after(async () => {
    await lb?.stop();
    for (const r of replicas) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    }
    await rm(root, { recursive: true, force: true });
  });

  it('a drained replica loses no request; a killed one fails only requests in flight when it died', async () => {
    const [a, b, c] = replicas;
    let phase: 'all' | 'arming' | 'draining' | 'drained' | 'killed' | 'done' = 'all';
    let inPhase = 0;
    let drainAt = 0;
    let killAt = 0;
    let long: Promise<{ status: number; body: string }> | null = null;
    let bExit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    void b.exited.then((e) => { bExit = e; });
    // SIGKILL lands at once but the dying process closes its sockets a little later: a request sent in between
    // still reached it. "In flight at the kill" = started before a's exit was seen, ended after kill() was called.
    let aDeadAt = Infinity;
    void a.exited.then(() => { aDeadAt = performance.now(); });
    const onRecord = (r: RequestRecord): void => {
      if (r.error === null && (phase !== 'killed' || r.start > aDeadAt)) inPhase++;
      if (phase === 'all' && inPhase >= PER_PHASE) {
        phase = 'arming';
        // A long request straight to b, and SIGTERM once its tokens are queued there: the drain has certain work.
        long = fetch(`http://127.0.0.1:${b.port}/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: LONG_BODY })
          .then(async (res) => ({ status: res.status, body: await res.text() }));
        void (async () => {
          let settled = false;
          void long!.finally(() => { settled = true; });
          // Each read is one /metrics round trip; a long request that ended without queueing fails below.
          while (!settled && (await queuedTokens(b)) < LONG_QUEUED);
          b.child.kill('SIGTERM');
          drainAt = performance.now();
          phase = 'draining';
        })();
      } else if (phase === 'draining' && bExit !== null) {
        phase = 'drained';
        inPhase = 0;
      } else if (phase === 'drained' && inPhase >= PER_PHASE) {
        phase = 'killed';
        inPhase = 0;
        killAt = performance.now();
        a.child.kill('SIGKILL');
      } else if (phase === 'killed' && inPhase >= PER_PHASE) {
        phase = 'done';
      }
    };
    const records = await closedLoop(lb.url, { concurrency: CONCURRENCY, stop: () => phase === 'done', deadlineMs: 120_000, onRecord });
    assert.equal(phase, 'done', `the load ran through every phase (stopped in "${phase}")`);

    const served = (name: string, from = 0, to = Infinity): number => records.filter((r) => r.server === name && r.error === null && r.start >= from && r.start < to).length;
    assert.ok(served('b', 0, drainAt) > 0 && served('a', 0, drainAt) > 0 && served('c', 0, drainAt) > 0, 'all three replicas took load before the drain');

    // The drained replica finished what it had and exited cleanly.
    assert.deepEqual(bExit, { code: 0, signal: null }, `replica b exit; log:\n${b.log()}`);
    const drained = /draining (\d+) in-flight request\(s\)/.exec(b.log());
    assert.ok(drained, `replica b logged its drain:\n${b.log()}`);
    assert.ok(Number(drained[1]) >= 1, 'b was signalled while it had requests in flight, so the drain had work to finish');
    const longDone = await long!;
    assert.equal(longDone.status, 200, `the long request in flight on b when it was drained finished: ${longDone.body.slice(0, 200)}`);
    assert.equal((JSON.parse(longDone.body) as unknown[]).length, LONG_PASSAGES);

    const failed = records.filter((r) => r.error !== null);
    const beforeKill = failed.filter((r) => r.end < killAt);
    assert.deepEqual(beforeKill, [], "no client saw an error from the drain");
    for (const r of failed) {
      assert.ok(r.start < aDeadAt && r.end >= killAt, `a failed request was in flight at the kill (started ${(r.start - killAt).toFixed(1)} ms after kill(), a gone ${(aDeadAt - killAt).toFixed(1)} ms after it): ${r.error}`);
    }
    const atKill = failed.filter((r) => r.start < killAt).length;
    assert.ok(atKill <= CONCURRENCY, `${atKill} failures started before the kill; at most the ${CONCURRENCY} requests in flight`);
    const after = records.filter((r) => r.start > aDeadAt && r.error === null);
    assert.ok(after.length >= PER_PHASE - CONCURRENCY);
    assert.ok(after.every((r) => r.server === 'c'), 'after the kill only the surviving replica serves');
    process.stderr.write(`# replicas: ${records.length} requests; b drained ${drained[1]} in-flight request(s) after SIGTERM; ${failed.length} failed at the kill (${failed.map((f) => f.error).join('; ')})\n`);
  });
});

// The per-model Scheduler on the generated tiny models: concurrent calls share batches and get the same
// scores as alone, partials stream before the final, cancel drops queued rows before inference, a full
// queue rejects at once, close() rejects queued calls and never kills a running worker. Policy details
// (no starvation, failing batches, padding waste) run against a scripted stand-in for the worker pool.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { setImmediate as tick } from 'node:timers/promises';
import { ensureGenerated } from '../models/generate.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { InferenceBackendError, InferenceClosedError, QueueFullError, RequestCancelledError } from '../src/infer/errors.js';
import { Scheduler, STARVATION_ROUNDS, type BatchEvent, type BatchRunner, type PartialResult } from '../src/infer/scheduler.js';
import { paddingWaste } from '../src/infer/batcher.js';
import { DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_BATCH_TOKENS } from '../src/infer/options.js';
import { Tokenizer } from '../src/tokenize/index.js';
import { Rng } from '../models/random.js';
import { texts } from './40.infer.texts.js';
import { encoding, expected, ScriptedRunner } from './41.infer.scripted.js';


const root = mkdtempSync(join(tmpdir(), 'crossgate-infer-scheduler-'));
let crossDir = '';
let biDir = '';
before(async () => {
  crossDir = await ensureGenerated('tiny-cross', { root });
  biDir = await ensureGenerated('tiny-bi', { root });
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Waits until a batch is running (a large call tokenizes off-thread before it is queued). */
async function untilRunning(ce: CrossEncoder): Promise<void> {
  while (ce.scheduler.inFlightBatches === 0) await tick();
}

function close(a: Float32Array, b: Float32Array, tol = 1e-5): boolean {
  return a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= tol);
}

test('concurrent calls share batches and each gets exactly the scores it gets alone', async () => {
  const ce = await CrossEncoder.load(crossDir, { workers: 1, threads: 1 });
  const batches: BatchEvent[] = [];
  ce.scheduler.onBatch = (b) => { batches.push(b); };
  try {
    const first = { q: 'how do dogs learn tricks', p: texts(10, 1, 20, 20) };
    const calls = Array.from({ length: 6 }, (_, k) => ({ q: texts(20 + k, 1, 3, 6)[0], p: texts(30 + k, 3, 18, 22) }));
    // All in one tick: the first call takes the idle worker; the six others queue while it runs.
    const [r0, ...rs] = await Promise.all([ce.score(first.q, first.p), ...calls.map((c) => ce.score(c.q, c.p))]);
    assert.equal(r0.stats.batches, 1);
    // The six queued calls went out together: a batch held more rows than any one call has.
    assert.ok(batches.some((b) => b.rows > 3), `batch rows: ${batches.map((b) => b.rows).join(', ')}`);
    assert.ok(batches.length < 1 + calls.length, `${batches.length} batches for 7 calls: requests were not packed together`);
    for (const [k, c] of calls.entries()) {
      const alone = await ce.score(c.q, c.p);
      assert.ok(close(rs[k].logits, alone.logits), `call ${k}: ${[...rs[k].logits]} shared vs ${[...alone.logits]} alone`);
      assert.ok(close(rs[k].probabilities, alone.probabilities));
      assert.ok(rs[k].timings.queueMs >= 0 && rs[k].timings.inferenceMs > 0 && rs[k].timings.tokenizationMs >= 0, JSON.stringify(rs[k].timings));
    }
    const alone0 = await ce.score(first.q, first.p);
    assert.ok(close(r0.logits, alone0.logits));
    // The onBatch counts add up to what the calls report.
    const real = batches.reduce((a, b) => a + b.realTokens, 0);
    assert.ok(real > 0 && batches.every((b) => b.paddedTokens >= b.realTokens && b.inferenceMs >= 0));
    assert.equal(ce.scheduler.queuedRows, 0);
    assert.equal(ce.scheduler.queuedTokens, 0);
  } finally {
    await ce.close();
  }
});

test('a call queued behind a running batch reports the wait as queueMs, separate from inferenceMs', async () => {
  const ce = await CrossEncoder.load(crossDir, { workers: 1, threads: 1, maxBatchTokens: 1 << 20, maxBatchRows: 4096 });
  try {
    const big = ce.score('what do cats eat', new Array<string>(1500).fill(texts(40, 1, 60, 60)[0]));
    await untilRunning(ce);
    const small = ce.score('what do cats eat', ['cats eat fish']);
    const [b, s] = await Promise.all([big, small]);
    assert.ok(b.timings.inferenceMs > 5, `the big call ran ${b.timings.inferenceMs} ms`);
    assert.ok(s.timings.queueMs >= 0.5 * b.timings.inferenceMs, `small call waited ${s.timings.queueMs.toFixed(1)} ms behind a ${b.timings.inferenceMs.toFixed(1)} ms run`);
    assert.ok(s.timings.inferenceMs < b.timings.inferenceMs);
  } finally {
    await ce.close();
  }
});

test('partials arrive before the final, cover every index exactly once and match the final scores', async () => {
  const ce = await CrossEncoder.load(crossDir, { workers: 2, threads: 1 });
  try {
    const passages = texts(50, 100, 5, 110);
    const parts: PartialResult[] = [];
    let resolved = false;
    const p = ce.score('which animals can swim', passages, {
      onPartial: (part) => {
        assert.equal(resolved, false, 'a partial after the final');
        parts.push(part);
      },
    }).then((r) => { resolved = true; return r; });
    const res = await p;
    assert.ok(parts.length >= 2, `${parts.length} partials`);
    const seen = new Uint8Array(passages.length);
    for (const part of parts) {
      assert.ok(part.logits && part.probabilities && part.indices.length === part.logits.length && part.indices.length === part.probabilities.length);
      part.indices.forEach((idx, j) => {
        assert.equal(seen[idx], 0, `index ${idx} in two partials`);
        seen[idx] = 1;
        assert.equal(part.logits![j], res.logits[idx]);
        assert.equal(part.probabilities![j], res.probabilities[idx]);
      });
    }
    assert.ok(seen.every((x) => x === 1), 'every index is in some partial');
    // A listener gets a small first batch of its shortest pairs, not a full-budget one.
    const enc = ce.tokenizer.encodeRaggedSync(new Array<string>(passages.length).fill('which animals can swim'), passages, { maxLength: ce.spec.maxLength });
    const lens = passages.map((_, i) => enc.offsets[i + 1] - enc.offsets[i]);
    const total = lens.reduce((a, b) => a + b, 0);
    const first = [...parts[0].indices].map((i) => lens[i]);
    const median = [...lens].sort((a, b) => a - b)[passages.length >> 1];
    assert.ok(first.reduce((a, b) => a + b, 0) <= 0.15 * total, `first partial holds ${first.reduce((a, b) => a + b, 0)} of ${total} tokens`);
    assert.ok(Math.max(...first) <= median, `first partial's longest pair is ${Math.max(...first)} tokens; median ${median}`);
  } finally {
    await ce.close();
  }
});

test('bi-encoder partials carry the vectors of their indices', async () => {
  const bi = await BiEncoder.load(biDir, { workers: 1, threads: 1, maxBatchTokens: 256 });
  try {
    const items = texts(60, 40, 3, 40);
    const parts: PartialResult[] = [];
    const res = await bi.embedDetailed(items, { onPartial: (p) => parts.push(p) });
    assert.ok(parts.length >= 2);
    let covered = 0;
    for (const part of parts) {
      assert.equal(part.vectors!.length, part.indices.length);
      part.indices.forEach((idx, j) => { assert.deepEqual(part.vectors![j], res.vectors[idx]); covered++; });
    }
    assert.equal(covered, items.length);
    assert.ok(res.timings.inferenceMs > 0);
  } finally {
    await bi.close();
  }
});

test('cancelling drops the queued rows before any worker sees them, and rejects with RequestCancelledError', async () => {
  const ce = await CrossEncoder.load(crossDir, { workers: 1, threads: 1, maxBatchTokens: 1 << 20, maxBatchRows: 4096 });
  let rowsRun = 0;
  ce.scheduler.onBatch = (b) => { rowsRun += b.rows; };
  try {
    const blockerRows = 1500;
    const order: string[] = [];
    const blocker = ce.score('what do cats eat', new Array<string>(blockerRows).fill(texts(70, 1, 60, 60)[0])).then(() => order.push('blocker'));
    await untilRunning(ce);
    const ac = new AbortController();
    const victim = ce.score('what do cats eat', texts(71, 40, 5, 30), { signal: ac.signal, onPartial: () => order.push('partial') });
    const victimDone = victim.then(() => 'resolved', (e: Error) => { order.push('victim'); return e; });
    while (ce.scheduler.queuedRows === 0) await tick(); // the victim is queued behind the running blocker
    assert.equal(ce.scheduler.queuedRows, 40);
    ac.abort(new Error('client went away'));
    assert.equal(ce.scheduler.queuedRows, 0, 'its rows left the queue at once');
    assert.equal(ce.scheduler.queuedTokens, 0);
    const err = await victimDone;
    assert.ok(err instanceof RequestCancelledError, String(err));
    assert.equal((err as RequestCancelledError).errorType, 'cancelled');
    assert.match((err as Error).message, /40 of its 40 rows/);
    await blocker;
    assert.deepEqual(order, ['victim', 'blocker'], 'the cancel is answered without waiting for the running batch');
    assert.equal(rowsRun, blockerRows, 'no row of the cancelled call reached a worker');

    // Already aborted: rejects without tokenizing or queuing anything.
    await assert.rejects(ce.score('q', ['p'], { signal: AbortSignal.abort() }), RequestCancelledError);
    assert.equal(rowsRun, blockerRows);
  } finally {
    await ce.close();
  }
});

test('cancelling mid-way: rows already running finish unseen, the rest never run', async () => {
  const ce = await CrossEncoder.load(crossDir, { workers: 1, threads: 1, maxBatchTokens: 512, maxBatchRows: 8 });
  let rowsRun = 0;
  ce.scheduler.onBatch = (b) => { rowsRun += b.rows; };
  try {
    const ac = new AbortController();
    let partials = 0;
    let afterAbort = 0;
    const n = 200;
    const p = ce.score('dogs', texts(80, n, 10, 30), {
      signal: ac.signal,
      onPartial: () => {
        if (ac.signal.aborted) afterAbort++;
        if (++partials === 2) ac.abort();
      },
    });
    await assert.rejects(p, RequestCancelledError);
    await tick();
    while (ce.scheduler.inFlightBatches > 0) await tick();
    assert.equal(afterAbort, 0, 'no partial after the abort');
    assert.ok(rowsRun < n / 2, `${rowsRun} of ${n} rows ran; the rest should have been dropped`);
    assert.equal(ce.scheduler.queuedRows, 0);
    // The model keeps serving.
    assert.equal((await ce.score('dogs', ['a dog'])).logits.length, 1);
  } finally {
    await ce.close();
  }
});

test('a call that would push the queue over maxQueueTokens fails at once with QueueFullError and queues nothing', async () => {
  const queuedTexts = texts(91, 40, 20, 30);
  const extraTexts = texts(92, 60, 20, 30);
  const tok = Tokenizer.fromFile(join(crossDir, 'tokenizer.json'));
  const tokens = (ps: string[]): number => tok.encodeRaggedSync(new Array<string>(ps.length).fill('cats'), ps, { maxLength: 128 }).ids.length;
  // Room for the queued call, or for the extra one, but not for both.
  const limit = Math.max(tokens(queuedTexts), tokens(extraTexts)) + Math.floor(Math.min(tokens(queuedTexts), tokens(extraTexts)) / 2);
  const ce = await CrossEncoder.load(crossDir, { workers: 1, threads: 1, maxQueueTokens: limit, maxBatchTokens: 1 << 20, maxBatchRows: 4096 });
  try {
    // One tick, all encoded on this thread: the first call takes the idle worker, the second queues
    // behind it, the third finds the queue too full; no worker can answer before the tick ends.
    const blocker = ce.score('what do cats eat', ['cats eat fish']);
    const queued = ce.score('cats', queuedTexts);
    const tooMuch = ce.score('cats', extraTexts);
    const err = await tooMuch.then(() => null, (e: Error) => e); // microtasks only: still the same tick
    assert.ok(err instanceof QueueFullError, String(err));
    assert.equal(err.errorType, 'queue_full');
    assert.ok(err.message.includes(`maxQueueTokens is ${limit.toLocaleString('en-US')}`), err.message);
    assert.equal(err.queuedTokens, tokens(queuedTexts));
    assert.equal(err.requestTokens, tokens(extraTexts));
    assert.equal(ce.scheduler.queuedTokens, err.queuedTokens, 'nothing of the rejected call was queued');
    assert.ok(ce.scheduler.queuedRows === 40);
    const [b, q] = await Promise.all([blocker, queued]);
    assert.equal(b.logits.length, 1);
    assert.equal(q.logits.length, 40);
    // Once the queue drains the same call fits.
    assert.equal((await ce.score('cats', extraTexts)).logits.length, 60);
    // A call bigger than the whole queue says to split it.
    await assert.rejects(ce.score('cats', texts(93, 300, 20, 30)), (e: Error) => e instanceof QueueFullError && /split it/.test(e.message));
  } finally {
    await ce.close();
  }
});

test('close() rejects queued calls with the closed error, lets the running batch finish, and the process exits cleanly', () => {
  const moduleUrl = new URL('../src/infer/cross-encoder.js', import.meta.url).href;
  const script = `
    import { CrossEncoder } from ${JSON.stringify(moduleUrl)};
    const ce = await CrossEncoder.load(${JSON.stringify(crossDir)}, { workers: 1, threads: 1, maxBatchTokens: 1 << 20, maxBatchRows: 4096 });
    let rows = 0;
    ce.scheduler.onBatch = (b) => { rows += b.rows; };
    const passage = 'the quick brown fox jumps over the lazy dog '.repeat(6);
    const running = ce.score('fox', new Array(1500).fill(passage)).then((r) => 'ok:' + r.logits.length, (e) => 'err:' + e.name);
    while (ce.scheduler.inFlightBatches === 0) await new Promise((r) => setImmediate(r));
    const queued = ce.score('fox', ['a fox', 'a dog']).then(() => 'ok', (e) => 'err:' + e.name + ':' + e.errorType);
    while (ce.scheduler.queuedRows === 0) await new Promise((r) => setImmediate(r));
    await ce.close();
    const late = await ce.score('fox', ['x']).then(() => 'ok', (e) => 'err:' + e.name);
    console.log(await running, await queued, late, 'rows', rows);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, `child killed (a worker torn down mid-run aborts the process): ${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /ok:1500 err:InferenceClosedError:unavailable err:InferenceClosedError rows 1500/);
});

// ---- Policy, against a scripted runner: each row's "logit" is the sum of its ids, so results are checkable.


function scheduler(runner: BatchRunner, over: Partial<ConstructorParameters<typeof Scheduler>[1]> = {}): Scheduler {
  return new Scheduler(runner, { capacity: 1, maxBatchTokens: DEFAULT_MAX_BATCH_TOKENS, maxBatchRows: DEFAULT_MAX_BATCH_ROWS, batchOverheadTokens: 32, maxQueueTokens: 1 << 20, padId: 0, ...over });
}

test('a failing batch rejects only the calls it carried; the others complete', async () => {
  const runner = new ScriptedRunner();
  const s = scheduler(runner, { capacity: 2 });
  runner.poison.add(7);
  const bad = s.submit(encoding(7, [20, 20, 20])).then(() => null, (e: Error) => e);
  const good = s.submit(encoding(8, [100, 100])); // both workers now busy, one batch each
  const later = s.submit(encoding(9, [50]));     // queued
  assert.equal(runner.held.length, 2);
  assert.deepEqual(runner.ran.map((r) => [...new Set(r.tags)]), [[7], [8]]);
  await runner.release();
  const e = await bad;
  assert.ok(e instanceof InferenceBackendError && /NaN/.test(e.message));
  await runner.release();
  await runner.release();
  const [g, l] = await Promise.all([good, later]);
  assert.deepEqual([...g.data], [expected(8, 0, 100), expected(8, 1, 100)]);
  assert.deepEqual([...l.data], [expected(9, 0, 50)]);
  assert.equal(s.inFlightBatches, 0);
});

test('a failing batch also drops the rest of its calls\' queued rows, and a throwing onPartial fails only its call', async () => {
  const runner = new ScriptedRunner();
  const s = scheduler(runner, { maxBatchTokens: 64, maxBatchRows: 2 });
  runner.poison.add(3);
  const bad = s.submit(encoding(3, [30, 30, 30, 30, 30, 30])).then(() => null, (e: Error) => e);
  await runner.release();
  assert.ok((await bad) instanceof InferenceBackendError);
  assert.equal(s.queuedRows, 0, 'the failed call\'s other rows left the queue');
  assert.equal(runner.ran.length, 1);

  runner.auto = true;
  const boom = s.submit(encoding(4, [10, 10, 10, 10]), { onRows: () => { throw new Error('listener bug'); } });
  const fine = s.submit(encoding(5, [10, 10]));
  await assert.rejects(boom, /listener bug/);
  assert.deepEqual([...(await fine).data], [expected(5, 0, 10), expected(5, 1, 10)]);
});

test('no starvation: a stream of new small calls slows an old large call down but cannot stop it', async () => {
  // Shortest-remaining-first would serve every newcomer first; the starvation bound (a request passed
  // over for STARVATION_ROUNDS x capacity dispatches is the next anchor) keeps the old call moving.
  const runner = new ScriptedRunner();
  const s = scheduler(runner, { maxBatchTokens: 200, maxBatchRows: 4 });
  const lengths = Array.from({ length: 24 }, (_, i) => 60 + (i % 5));
  let oldDone = false;
  const old = s.submit(encoding(1, lengths)).then((r) => { oldDone = true; return r; });
  let tag = 10;
  const others: Promise<unknown>[] = [];
  let batches = 0;
  let sinceOld = 0;
  while (!oldDone && batches < 500) {
    others.push(s.submit(encoding(tag++, [45, 45, 45])));
    const ran = runner.ran[runner.ran.length - 1];
    sinceOld = ran.tags.includes(1) ? 0 : sinceOld + 1;
    // Passed over for STARVATION_ROUNDS dispatches it is due; small calls that go out whole may still
    // go first up to twice that.
    assert.ok(sinceOld <= 2 * STARVATION_ROUNDS, `the old call waited ${sinceOld} batches in a row`);
    await runner.release();
    batches++;
  }
  const r = await old;
  assert.ok(batches <= (2 * STARVATION_ROUNDS + 1) * Math.ceil(lengths.length / 3) + 2, `the old call took ${batches} batches`);
  lengths.forEach((len, i) => assert.equal(r.data[i], expected(1, i, len)));
  runner.auto = true;
  while (runner.held.length) await runner.release();
  await Promise.all(others);
});

test('a lone call\'s padding waste stays under 5% on the rerank workload (queries 5-20, passages 30-400 tokens)', async () => {
  for (const capacity of [1, 2]) {
    for (const listen of [false, true]) {
      const runner = new ScriptedRunner();
      runner.auto = true;
      const s = scheduler(runner, { capacity });
      const total = { batches: 0, realTokens: 0, paddedTokens: 0 };
      const calls = 100;
      for (let c = 0; c < calls; c++) {
        const r = new Rng(1000 + c);
        const q = 5 + Math.floor(r.next() * 16);
        const lengths = Array.from({ length: 100 }, () => q + 3 + Math.min(400, Math.max(30, Math.round(Math.exp(Math.log(110) + 0.7 * r.normal())))));
        const out = await s.submit(encoding(c, lengths), listen ? { onRows: () => undefined } : {});
        lengths.forEach((len, i) => assert.equal(out.data[i], expected(c, i, len)));
        total.batches += out.stats.batches;
        total.realTokens += out.stats.realTokens;
        total.paddedTokens += out.stats.paddedTokens;
      }
      const waste = paddingWaste(total);
      console.log(`# ${JSON.stringify(total)}`);
      console.log(`# scheduler waste ${(waste * 100).toFixed(2)}% (${capacity} worker(s), onPartial ${listen}), ${(total.batches / calls).toFixed(1)} batches/call`);
      assert.ok(waste <= 0.05, `padding waste ${(waste * 100).toFixed(2)}% with ${capacity} worker(s), onPartial ${listen}`);
      assert.ok(total.batches / calls <= 30, `${total.batches / calls} batches per call`);
    }
  }
});

test('at most `capacity` batches run at once, and a worker freeing up immediately starts the next batch', async () => {
  const runner = new ScriptedRunner();
  const s = scheduler(runner, { capacity: 2, maxBatchTokens: 100, maxBatchRows: 2 });
  const p = s.submit(encoding(1, new Array(12).fill(40)));
  assert.equal(runner.held.length, 2);
  assert.equal(s.inFlightBatches, 2);
  assert.equal(s.queuedRows, 8);
  await runner.release();
  assert.equal(runner.held.length, 2, 'the next batch left as soon as a worker was free');
  runner.auto = true;
  while (runner.held.length) await runner.release();
  const r = await p;
  assert.equal(r.stats.batches, 6);
  assert.equal(r.stats.paddedTokens, 480);
  assert.equal(s.queuedTokens, 0);
});

test('a call\'s long rows go to different workers when rows are counted at their attention cost', async () => {
  // Two 300-token rows and ten of 70: counted in tokens, half the call (650) holds both long rows, so
  // one worker gets them together while the other finishes the short rows and idles. Counted at
  // L + L^2/256, each long row is a worker's share on its own.
  const lengths = [300, 300, ...new Array<number>(10).fill(70)];
  const firstTwo = async (attentionCostLength: number): Promise<number[][]> => {
    const runner = new ScriptedRunner();
    const s = scheduler(runner, { capacity: 2, attentionCostLength });
    const p = s.submit(encoding(3, lengths));
    const batches = runner.ran.slice(0, 2).map((b) => new Array<number>(b.rows).fill(b.seqLen)); // each row padded to seqLen
    runner.auto = true;
    while (runner.held.length) await runner.release();
    const out = await p;
    lengths.forEach((len, i) => assert.equal(out.data[i], expected(3, i, len)));
    return batches;
  };
  assert.deepEqual(await firstTwo(Infinity), [[300, 300], [70, 70, 70, 70, 70]], 'tokens only: both long rows in one batch');
  assert.deepEqual(await firstTwo(256), [[300], [300]], 'attention cost: one long row per worker');
  assert.throws(() => scheduler(new ScriptedRunner(), { attentionCostLength: 0 }), /'attentionCostLength' is 0; expected a number >= 1/);
});

test('bad scheduling options fail with errors that name the option', async () => {
  await assert.rejects(CrossEncoder.load(crossDir, { maxQueueTokens: 0 }), (e: Error) => e instanceof RangeError && /'maxQueueTokens' is invalid: 0/.test(e.message));
  await assert.rejects(CrossEncoder.load(crossDir, { attentionCostLength: Number.NaN }), (e: Error) => e instanceof RangeError && /'attentionCostLength' is invalid: NaN; expected a number >= 1, or Infinity/.test(e.message));
  const ce = await CrossEncoder.load(crossDir, { workers: 1, threads: 1 });
  try {
    await assert.rejects(ce.score('q', ['p'], { signal: 'soon' as unknown as AbortSignal }), (e: Error) => e instanceof TypeError && /'signal' must be an AbortSignal/.test(e.message));
    await assert.rejects(ce.score('q', ['p'], { onPartial: 1 as unknown as () => void }), /'onPartial' must be a function/);
    assert.deepEqual(ce.stats(), { queuedRows: 0, queuedTokens: 0, queuedRequests: 0, inFlightBatches: 0 });
  } finally {
    await ce.close();
  }
});

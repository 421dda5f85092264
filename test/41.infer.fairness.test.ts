// Scheduler fairness across requests (issue 15, head-of-line blocking), against a scripted stand-in for
// the worker pool so that the order is checked on events (a batch released), never on time:
// a small call that arrives while large calls keep every worker busy goes into the next batch that
// leaves, whole, in a batch that is still full; among large calls the one nearest completion goes first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler, type BatchRunner } from '../src/infer/scheduler.js';
import { paddingWaste, rowCost } from '../src/infer/batcher.js';
import { Rng } from '../models/random.js';
import { encoding, ScriptedRunner } from './41.infer.scripted.js';

/** Rerank-like passage lengths: log-normal around 110 tokens, 30..400. */
function passageLengths(seed: number, n: number): number[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => 15 + Math.min(400, Math.max(30, Math.round(Math.exp(Math.log(110) + 0.7 * r.normal())))));
}

function scheduler(runner: BatchRunner, capacity: number): Scheduler {
  return new Scheduler(runner, { capacity, maxBatchTokens: 8192, maxBatchRows: 64, batchOverheadTokens: 32, maxQueueTokens: 1 << 22, padId: 0, attentionCostLength: 256 });
}

for (const capacity of [1, 2]) {
  test(`${capacity} worker(s): a 3-passage call behind four 100-passage calls goes out whole in the next batch that leaves`, async () => {
    const runner = new ScriptedRunner();
    const s = scheduler(runner, capacity);
    const large = [1, 2, 3, 4].map((tag) => s.submit(encoding(tag, passageLengths(tag, 100))));
    assert.equal(runner.held.length, capacity, 'every worker is busy with the large calls');
    const smallLengths = [40, 150, 260]; // three different lengths: one batch must still hold all of them
    let smallDone = false;
    const small = s.submit(encoding(9, smallLengths)).then((r) => { smallDone = true; return r; });
    await runner.release();
    const next = runner.ran[runner.ran.length - 1];
    assert.equal(next.tags.filter((t) => t === 9).length, 3, `the batch after the first release holds ${next.tags.filter((t) => t === 9).length} of the small call's 3 rows`);
    // It completes once the batches ahead of it (at most `capacity`) and its own have come back.
    for (let i = 0; i < capacity && !smallDone; i++) await runner.release();
    assert.ok(smallDone, 'the small call finished right after its batch');
    const r = await small;
    assert.equal(r.stats.batches, 1);
    smallLengths.forEach((len, i) => assert.equal(r.data[i], 9000 + i + len - 1));
    runner.auto = true;
    while (runner.held.length) await runner.release();
    for (const [k, p] of large.entries()) {
      const out = await p;
      passageLengths(k + 1, 100).forEach((len, i) => assert.equal(out.data[i], (k + 1) * 1000 + i + len - 1));
    }
  });
}

test('among large calls the one nearest completion goes first, so they finish one after another', async () => {
  const runner = new ScriptedRunner();
  const s = scheduler(runner, 1);
  const done: number[] = [];
  const calls = [1, 2, 3].map((tag) => s.submit(encoding(tag, passageLengths(10 + tag, 100))).then(() => { done.push(tag); }));
  runner.auto = true;
  await runner.release();
  await Promise.all(calls);
  assert.deepEqual(done, [1, 2, 3]);
  // Call 1 ran in a contiguous stretch of batches: no batch of call 2 or 3 came before its last one.
  const lastOf1 = runner.ran.length - 1 - [...runner.ran].reverse().findIndex((b) => b.tags.includes(1));
  const firstOf3 = runner.ran.findIndex((b) => b.tags.includes(3));
  assert.ok(firstOf3 > lastOf1 || runner.ran[firstOf3].tags.includes(1), `call 3 started at batch ${firstOf3}, call 1 ended at ${lastOf1}`);
});

test('a small call of similar lengths is packed with other calls\' rows into a full batch', async () => {
  const runner = new ScriptedRunner();
  const s = scheduler(runner, 1);
  const large = [1, 2].map((tag) => s.submit(encoding(tag, new Array<number>(100).fill(125))));
  const small = s.submit(encoding(9, [120, 124, 125]));
  await runner.release();
  const next = runner.ran[runner.ran.length - 1];
  assert.equal(next.tags.filter((t) => t === 9).length, 3);
  assert.equal(next.seqLen, 125);
  // Filled up to the token budget (rows at their attention cost) with the large calls' rows.
  assert.equal(next.rows, Math.floor(8192 / rowCost(125, 256)));
  runner.auto = true;
  while (runner.held.length) await runner.release();
  await Promise.all([...large, small]);
});

// Only small calls (padding them to one length adds at most 1/4 of a batch) go out whole, so the
// padding fairness costs is bounded by their own rows: 4.7% here, where the old oldest-first policy had
// 0.1% (and kept the small calls waiting) and gathering every request that fit one batch had 10.6%.
test('mixed load keeps the padding waste bounded: 90% 3-passage and 10% 100-passage calls', async () => {
  const runner = new ScriptedRunner();
  runner.auto = true;
  const s = scheduler(runner, 2);
  const total = { batches: 0, realTokens: 0, paddedTokens: 0 };
  s.onBatch = (b) => { total.batches++; total.realTokens += b.realTokens; total.paddedTokens += b.paddedTokens; };
  const rng = new Rng(77);
  const calls: Promise<unknown>[] = [];
  for (let c = 0; c < 400; c++) {
    const n = rng.next() < 0.1 ? 100 : 3;
    calls.push(s.submit(encoding(c, passageLengths(500 + c, n))));
    if (c % 8 === 7) await runner.release().catch(() => undefined); // arrivals interleave with finishing batches
  }
  await Promise.all(calls);
  const waste = paddingWaste(total);
  console.log(`# mixed-load padding waste ${(waste * 100).toFixed(2)}% over ${total.batches} batches`);
  assert.ok(waste <= 0.06, `padding waste ${(waste * 100).toFixed(2)}%`);
});

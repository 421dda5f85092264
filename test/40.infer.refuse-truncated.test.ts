// ScheduleOptions.refuseTruncated (what the server's truncate=false uses): an over-long input is refused
// with its full length and index before anything is queued, and inputs within the limit are scored as usual.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { InputTooLongError } from '../src/infer/errors.js';

const LONG = 'the quick brown fox jumps over the lazy dog '.repeat(20);
let cross: CrossEncoder;
let bi: BiEncoder;
let batches = 0;

before(async () => {
  cross = await CrossEncoder.load(await ensureGenerated('tiny-cross'), { threads: 1, workers: 1 });
  bi = await BiEncoder.load(await ensureGenerated('tiny-bi'), { threads: 1, workers: 1 });
  for (const q of [cross.queue, bi.queue]) q.onBatch = () => { batches++; };
});
after(async () => {
  await cross?.close();
  await bi?.close();
});

test('a pair over the max length is refused with its index and full length; nothing runs', async () => {
  const full = cross.tokenizer.encode('query', LONG, { maxLength: Infinity }).ids.length;
  const before = batches;
  await assert.rejects(cross.score('query', ['short one', LONG, 'another'], { maxLength: 32, refuseTruncated: true }), (e: unknown) => {
    assert.ok(e instanceof InputTooLongError);
    assert.equal(e.index, 1);
    assert.equal(e.tokens, full);
    assert.equal(e.maxLength, 32);
    return true;
  });
  assert.equal(batches, before, 'no batch ran for the refused request');
  assert.equal(cross.queue.queuedRows, 0);
});

test('within the limit, refuseTruncated scores exactly as without it', async () => {
  const a = await cross.score('query', ['short one', 'another passage'], { maxLength: 32, refuseTruncated: true });
  const b = await cross.score('query', ['short one', 'another passage'], { maxLength: 32 });
  assert.deepEqual(Array.from(a.logits), Array.from(b.logits));
  assert.deepEqual(Array.from(a.truncated), [0, 0]);
});

test('an embedding input over the max length is refused the same way', async () => {
  const full = bi.tokenizer.encode(LONG, null, { maxLength: Infinity }).ids.length;
  await assert.rejects(bi.embedDetailed(['ok', 'fine', LONG], { maxLength: 16, refuseTruncated: true }), (e: unknown) =>
    e instanceof InputTooLongError && e.index === 2 && e.tokens === full);
  assert.equal((await bi.embedDetailed(['ok'], { maxLength: 16, refuseTruncated: true })).vectors.length, 1);
});

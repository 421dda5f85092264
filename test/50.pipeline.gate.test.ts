// The precision gate: rerank-only and retrieve->rerank->gate decisions, thresholds chosen from the real
// probabilities, the prompt built from exactly the kept passages, truncation flags, and input errors.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { Collection } from '../src/pipeline/collection.js';
import { DEFAULT_THRESHOLD, PrecisionPipeline, rerank, type GateDecision } from '../src/pipeline/precision.js';
import { NO_RELEVANT_MESSAGE } from '../src/pipeline/prompt.js';
import { DEMO_CORPUS } from '../src/pipeline/demo-corpus.js';

const QUERY = 'how do I reset my password';
const PASSAGES = [
  "Click on 'Forgot Password' on the login screen",
  'Use a strong password with numbers and symbols',
  'The cafeteria serves lunch from noon until two',
  'Contact support if your account is locked',
  'Bananas ripen faster in a paper bag',
];

function checkConsistent(d: GateDecision): void {
  assert.equal(d.kept.length + d.dropped.length, d.candidates.length);
  for (const c of d.kept) assert.ok(c.kept && c.probability >= d.threshold);
  for (const c of d.dropped) assert.ok(!c.kept && c.probability < d.threshold);
  for (const list of [d.kept, d.dropped]) {
    for (let i = 1; i < list.length; i++) assert.ok(list[i - 1].probability >= list[i].probability, 'sorted by probability desc');
  }
}

describe('precision gate', () => {
  let root: string;
  let cross: CrossEncoder;
  let bi: BiEncoder;
  let probs: number[];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-gate-'));
    cross = await CrossEncoder.load(await ensureGenerated('tiny-cross', { root: join(root, 'models') }));
    bi = await BiEncoder.load(await ensureGenerated('tiny-bi', { root: join(root, 'models') }));
    probs = Array.from((await cross.score(QUERY, PASSAGES)).probabilities);
    assert.equal(new Set(probs).size, probs.length, 'the tiny model should give distinct probabilities for distinct passages');
  });
  after(async () => {
    await cross?.close();
    await bi?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('carries the cross-encoder scores through unchanged', async () => {
    const raw = await cross.score(QUERY, PASSAGES);
    const d = await rerank(cross, QUERY, PASSAGES, { threshold: 0 });
    assert.equal(d.threshold, 0);
    d.candidates.forEach((c, i) => {
      assert.equal(c.index, i);
      assert.equal(c.text, PASSAGES[i]);
      assert.equal(c.retrievalScore, null);
      assert.ok(Math.abs(c.logit - raw.logits[i]) < 1e-5);
      assert.ok(Math.abs(c.probability - raw.probabilities[i]) < 1e-6);
      assert.ok(Math.abs(c.probability - 1 / (1 + Math.exp(-c.logit))) < 1e-5, 'probability is the expit of the logit');
    });
    assert.equal(d.kept.length, PASSAGES.length, 'threshold 0 keeps everything');
    checkConsistent(d);
  });

  it('answers with exactly the passages above a threshold between the real probabilities', async () => {
    const sorted = [...probs].sort((a, b) => b - a);
    for (const keep of [1, 2, 3]) {
      const threshold = (sorted[keep - 1] + sorted[keep]) / 2;
      const d = await rerank(cross, QUERY, PASSAGES, { threshold });
      checkConsistent(d);
      assert.equal(d.outcome, 'answer');
      assert.equal(d.kept.length, keep);
      d.kept.forEach((c, i) => assert.ok(Math.abs(c.probability - sorted[i]) < 1e-6, `kept[${i}] is the ${i + 1}-th most probable passage`));
      assert.equal(d.message, null);
      assert.ok(d.prompt !== null);
      for (const c of d.kept) assert.ok(d.prompt.includes(c.text), `prompt holds kept passage "${c.text}"`);
      for (const c of d.dropped) assert.ok(!d.prompt.includes(c.text), `prompt must not hold dropped passage "${c.text}"`);
      assert.ok(d.prompt.includes(QUERY));
      // Kept passages appear in the prompt in probability order.
      const positions = d.kept.map((c) => d.prompt!.indexOf(c.text));
      assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
    }
  });

  it('says no_relevant, with no prompt, when nothing clears the threshold', async () => {
    const threshold = Math.min(1, Math.max(...probs) + 1e-6);
    const d = await rerank(cross, QUERY, PASSAGES, { threshold });
    checkConsistent(d);
    assert.equal(d.outcome, 'no_relevant');
    assert.equal(d.kept.length, 0);
    assert.equal(d.dropped.length, PASSAGES.length);
    assert.equal(d.prompt, null);
    assert.equal(d.message, NO_RELEVANT_MESSAGE);
  });

  it('flags a passage longer than the model max length as truncated', async () => {
    const long = Array.from({ length: 4 * cross.spec.maxLength }, (_, i) => `word${i % 50}`).join(' ');
    const d = await rerank(cross, QUERY, [PASSAGES[0], long]);
    assert.equal(d.candidates[0].truncated, false);
    assert.equal(d.candidates[1].truncated, true);
    assert.equal(d.threshold, DEFAULT_THRESHOLD);
  });

  it('rejects bad input with errors that name it, and treats an empty list as an empty result', async () => {
    await assert.rejects(rerank(cross, '', PASSAGES), /query is empty/);
    await assert.rejects(rerank(cross, '  \n', PASSAGES), /query is empty/);
    await assert.rejects(rerank(cross, QUERY, ['ok', 7 as unknown as string]), /passages\[1\] is number; expected a string/);
    await assert.rejects(rerank(cross, QUERY, ['ok', 'fine', null as unknown as string]), /passages\[2\] is null/);
    for (const t of [-0.1, 1.5, Number.NaN]) await assert.rejects(rerank(cross, QUERY, PASSAGES, { threshold: t }), /threshold is .*between 0 and 1/);
    const empty = await rerank(cross, QUERY, []);
    assert.equal(empty.candidates.length, 0);
    assert.equal(empty.outcome, 'no_relevant');
    assert.equal(empty.prompt, null);
  });

  it('retrieves top-k from a collection, reranks them and keeps retrieval scores', async () => {
    const collection = Collection.create(bi);
    await collection.add(DEMO_CORPUS);
    const query = 'tell me about canines';
    const hits = await collection.search(query, 4);
    const pipeline = new PrecisionPipeline({ collection, crossEncoder: cross, topK: 4, threshold: 0 });
    const d = await pipeline.search(query);
    assert.deepEqual(d.candidates.map((c) => c.id), hits.map((h) => h.id));
    d.candidates.forEach((c, i) => assert.ok(Math.abs((c.retrievalScore ?? NaN) - hits[i].score) < 1e-6));
    const raw = await cross.score(query, hits.map((h) => h.text));
    d.candidates.forEach((c, i) => assert.ok(Math.abs(c.probability - raw.probabilities[i]) < 1e-6));
    const top = Math.max(...raw.probabilities);
    const gated = await pipeline.search(query, { threshold: Math.min(1, top + 1e-6) });
    assert.equal(gated.outcome, 'no_relevant');
    assert.equal(gated.prompt, null);
    assert.throws(() => new PrecisionPipeline({ collection, crossEncoder: cross, topK: 0 }), /topK is 0/);
    assert.throws(() => new PrecisionPipeline({ collection, crossEncoder: cross, threshold: 2 }), /threshold is 2/);
    await assert.rejects(pipeline.search(''), /query is empty/);
  });
});

// The decision flow over the Retriever seam: the fallback retrieval runs only when nothing passed and the
// retriever has the mode (else the path says it was unavailable), its candidates are gated by the same
// cross-encoder and threshold, the ambiguous band, augment + reason, and the options' errors. Thresholds are
// chosen from the real probabilities of the tiny random-weight models, so each outcome is forced, not hoped for.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { Collection } from '../src/pipeline/collection.js';
import { DEMO_CORPUS, DEMO_ERROR_CODE } from '../src/pipeline/demo-corpus.js';
import { PrecisionPipeline, type GateDecision } from '../src/pipeline/precision.js';
import { AMBIGUOUS_MESSAGE, NO_RELEVANT_MESSAGE } from '../src/pipeline/prompt.js';
import { Bm25Retriever } from './52.pipeline.flow.retriever.js';

function consistent(d: GateDecision): void {
  assert.equal(d.kept.length + d.dropped.length, d.candidates.length);
  for (const c of d.kept) assert.ok(c.probability >= d.threshold);
  for (const c of d.dropped) assert.ok(c.probability < d.threshold);
  d.candidates.forEach((c, i) => assert.equal(c.index, i, 'index is the position in candidates'));
  assert.equal(new Set(d.candidates.map((c) => c.id)).size, d.candidates.length, 'no document is scored twice');
  const ran = d.path.filter((s) => s.status === 'ran');
  assert.equal(ran.reduce((n, s) => n + s.scored, 0), d.candidates.length, 'each step scored its new candidates');
  assert.ok(Math.abs(ran.reduce((n, s) => n + s.retrieveMs, 0) - d.timings.retrieveMs) < 1e-6);
  assert.ok(Math.abs(ran.reduce((n, s) => n + s.rerankMs, 0) - d.timings.rerankMs) < 1e-6);
  assert.ok(d.timings.totalMs >= d.timings.retrieveMs + d.timings.rerankMs - 1e-6);
  const best = d.candidates.length > 0 ? Math.max(...d.candidates.map((c) => c.probability)) : null;
  assert.equal(d.bestProbability, best);
}

describe('decision flow', () => {
  let root: string;
  let cross: CrossEncoder;
  let bi: BiEncoder;
  let collection: Collection;
  let both: Bm25Retriever;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-flow-'));
    cross = await CrossEncoder.load(await ensureGenerated('tiny-cross', { root: join(root, 'models') }));
    bi = await BiEncoder.load(await ensureGenerated('tiny-bi', { root: join(root, 'models') }));
    collection = Collection.create(bi);
    await collection.add(DEMO_CORPUS);
    both = new Bm25Retriever(collection);
  });
  after(async () => {
    await cross?.close();
    await bi?.close();
    await rm(root, { recursive: true, force: true });
  });

  /**
   * Finds a query and top-k where the keyword fallback brings a document the dense list missed that scores
   * above every dense candidate, and returns a threshold between the two: that configuration must answer
   * from the fallback. The models are seeded, so the search is deterministic.
   */
  async function fallbackCase(): Promise<{ query: string; topK: number; threshold: number; denseBest: number; kwBest: number }> {
    const queries = [`error ${DEMO_ERROR_CODE}`, DEMO_ERROR_CODE, `${DEMO_ERROR_CODE} upgrade`, 'newer crossgate index file', 'Eiffel Tower 1889', 'ferrets polecat', 'yeast dough'];
    for (const query of queries) {
      for (const topK of [1, 2, 3]) {
        const p = new PrecisionPipeline({ retriever: both, crossEncoder: cross, topK, threshold: 1, fallback: 'keyword' });
        const d = await p.search(query);
        const dense = d.candidates.filter((c) => c.mode === 'dense').map((c) => c.probability);
        const kw = d.candidates.filter((c) => c.mode === 'keyword').map((c) => c.probability);
        if (dense.length === 0 || kw.length === 0) continue;
        const denseBest = Math.max(...dense);
        const kwBest = Math.max(...kw);
        if (kwBest > denseBest + 1e-4) return { query, topK, threshold: (denseBest + kwBest) / 2, denseBest, kwBest };
      }
    }
    throw new Error('no query in the list gives a keyword-only candidate above the dense ones; extend the list');
  }

  it('answers from the first retrieval when something passes, without running the fallback', async () => {
    const p = new PrecisionPipeline({ retriever: both, crossEncoder: cross, topK: 3, threshold: 0 });
    const before = both.calls.length;
    const d = await p.search('tell me about canines');
    consistent(d);
    assert.equal(d.outcome, 'answer');
    assert.equal(d.augment, false);
    assert.equal(d.reason, null);
    assert.deepEqual(both.calls.slice(before).map((c) => c.mode), ['dense']);
    assert.deepEqual(d.path.map((s) => [s.retriever, s.mode, s.role, s.status]), [['bm25-test', 'dense', 'primary', 'ran']]);
    assert.equal(d.kept.length, 3);
    for (const c of d.kept) {
      assert.equal(c.retriever, 'bm25-test');
      assert.equal(c.mode, 'dense');
      assert.ok(d.prompt!.includes(c.text));
    }
  });

  it('answers from the keyword fallback when only it finds a passage that passes, gated by the same cross-encoder', async () => {
    const f = await fallbackCase();
    const p = new PrecisionPipeline({ retriever: both, crossEncoder: cross, topK: f.topK, threshold: f.threshold, fallback: 'keyword' });
    const d = await p.search(f.query);
    consistent(d);
    assert.equal(d.outcome, 'answer_from_fallback');
    assert.equal(d.augment, false);
    assert.deepEqual(d.path.map((s) => `${s.mode}:${s.status}`), ['dense:ran', 'keyword:ran']);
    assert.equal(d.path[0].kept, 0);
    assert.ok(d.path[1].kept >= 1);
    assert.ok(d.kept.length >= 1);
    for (const c of d.kept) assert.equal(c.mode, 'keyword', `kept ${c.id} was found by the keyword fallback`);
    assert.ok(Math.abs(d.kept[0].probability - f.kwBest) < 1e-6);
    // The fallback candidates carry the cross-encoder's own score for that pair.
    const raw = await cross.score(f.query, [d.kept[0].text]);
    assert.ok(Math.abs(raw.probabilities[0] - d.kept[0].probability) < 1e-5);
    assert.ok(d.prompt !== null && d.prompt.includes(d.kept[0].text));
    assert.equal(d.message, null);
    for (const c of d.candidates.filter((x) => x.mode === 'dense')) assert.ok(!c.kept);

    // The same input with the fallback off: nothing passes, and the collection is flagged.
    const off = await p.search(f.query, { fallback: 'off' });
    consistent(off);
    assert.equal(off.outcome, 'no_relevant');
    assert.deepEqual(off.path.map((s) => s.mode), ['dense']);
    assert.equal(off.augment, true);
    assert.deepEqual(off.reason!.retrievers, ['bm25-test:dense']);
    assert.ok(Math.abs(off.reason!.bestProbability! - f.denseBest) < 1e-6);
    assert.equal(off.prompt, null);
    assert.equal(off.message, NO_RELEVANT_MESSAGE);
  });

  it('says no_relevant with augment and the reason when neither retrieval passes', async () => {
    const p = new PrecisionPipeline({ retriever: both, crossEncoder: cross, topK: 3, threshold: 1, fallback: 'keyword' });
    const d = await p.search(`error ${DEMO_ERROR_CODE}`);
    consistent(d);
    assert.equal(d.outcome, 'no_relevant');
    assert.equal(d.augment, true);
    assert.deepEqual(d.reason!.retrievers, ['bm25-test:dense', 'bm25-test:keyword']);
    assert.equal(d.reason!.candidates, d.candidates.length);
    assert.equal(d.reason!.bestProbability, d.bestProbability);
    assert.match(d.reason!.summary, /bm25-test:dense then bm25-test:keyword: the best of \d+ candidates reached probability 0\.\d{4}, below the threshold 1/);
    assert.ok(d.candidates.some((c) => c.id === 'err-1' && c.mode === 'keyword' || c.id === 'err-1' && c.mode === 'dense'), 'the error-code document was reranked');
  });

  it('hybrid fallback reranks only the documents the first retrieval did not return', async () => {
    const p = new PrecisionPipeline({ retriever: both, crossEncoder: cross, topK: 4, threshold: 1, fallback: 'hybrid' });
    const d = await p.search(`error ${DEMO_ERROR_CODE} dogs`);
    consistent(d);
    assert.deepEqual(d.path.map((s) => `${s.mode}:${s.status}`), ['dense:ran', 'hybrid:ran']);
    const dense = new Set(d.candidates.filter((c) => c.mode === 'dense').map((c) => c.id));
    const hybrid = await both.retrieve(`error ${DEMO_ERROR_CODE} dogs`, { k: 4, mode: 'hybrid' });
    const fresh = hybrid.filter((h) => !dense.has(h.id));
    assert.equal(d.path[1].retrieved, hybrid.length);
    assert.equal(d.path[1].scored, fresh.length);
    assert.ok(fresh.length < hybrid.length, 'RRF of dense + keyword repeats some dense hits');
    for (const c of d.candidates.filter((x) => x.mode === 'hybrid')) assert.ok(c.sources && (c.sources.dense || c.sources.keyword), 'hybrid candidates keep their list ranks');
  });

  it('records in the path that the fallback was unavailable when the retriever lacks the mode', async () => {
    const p = new PrecisionPipeline({ collection, crossEncoder: cross, topK: 3, threshold: 1 });
    const d = await p.search(`error ${DEMO_ERROR_CODE}`);
    consistent(d);
    assert.equal(d.fallback, 'keyword', 'keyword is the default fallback');
    if (!collection.modes.includes('keyword')) {
      assert.equal(d.path.length, 2);
      assert.equal(d.path[1].status, 'unavailable');
      assert.match(d.path[1].note!, /retriever "collection" has no keyword mode \(it supports dense\)/);
      assert.deepEqual(d.reason!.retrievers, ['collection:dense']);
    } else {
      assert.deepEqual(d.path.map((s) => `${s.mode}:${s.status}`), ['dense:ran', 'keyword:ran']);
    }
    assert.equal(d.outcome, 'no_relevant');
    // A fallback equal to the first retrieval's mode is not run twice.
    const kwFirst = new PrecisionPipeline({ retriever: both, crossEncoder: cross, topK: 3, threshold: 1, mode: 'keyword', fallback: 'keyword' });
    const k = await kwFirst.search(`error ${DEMO_ERROR_CODE}`);
    assert.deepEqual(k.path.map((s) => `${s.mode}:${s.status}`), ['keyword:ran', 'keyword:skipped']);
  });

  it('ambiguous band: uncertain between the bounds, answer at or above the upper one', async () => {
    const p = new PrecisionPipeline({ retriever: both, crossEncoder: cross, topK: 4, fallback: 'off' });
    const probe = await p.search('what are small weasels', { threshold: 1 });
    const sorted = probe.candidates.map((c) => c.probability).sort((a, b) => b - a);
    const best = sorted[0];
    const lower = (sorted[1] + sorted[2]) / 2; // keeps the top two
    const d = await p.search('what are small weasels', { ambiguous: { lower, upper: Math.min(1, best + 1e-3) } });
    consistent(d);
    assert.equal(d.outcome, 'ambiguous');
    assert.equal(d.threshold, lower, 'passages are kept at the lower bound');
    assert.equal(d.kept.length, 2);
    assert.equal(d.augment, true);
    assert.match(d.reason!.summary, /below the confident bound/);
    assert.equal(d.message, AMBIGUOUS_MESSAGE);
    assert.match(d.prompt!, /only loosely related/);
    const sure = await p.search('what are small weasels', { ambiguous: { lower, upper: best } });
    assert.equal(sure.outcome, 'answer');
    assert.equal(sure.kept.length, 2);
    assert.equal(sure.augment, false);
    const none = await p.search('what are small weasels', { ambiguous: { lower: Math.min(1, best + 1e-3), upper: 1 } });
    assert.equal(none.outcome, 'no_relevant');
    // Off by default: the same query with the plain threshold never says ambiguous.
    const plain = await p.search('what are small weasels', { threshold: lower });
    assert.equal(plain.outcome, 'answer');
    assert.equal(plain.ambiguous, null);
  });

  it('an ambiguous first retrieval still tries the fallback for a confident answer', async () => {
    const f = await fallbackCase();
    const p = new PrecisionPipeline({ retriever: both, crossEncoder: cross, topK: f.topK, fallback: 'keyword' });
    const lower = f.denseBest - 1e-6;
    const d = await p.search(f.query, { ambiguous: { lower, upper: f.threshold } });
    consistent(d);
    assert.equal(d.outcome, 'answer_from_fallback');
    assert.ok(d.kept.some((c) => c.mode === 'dense') && d.kept.some((c) => c.mode === 'keyword'), 'kept holds the uncertain dense passage and the confident keyword one');
    assert.equal(d.kept[0].mode, 'keyword');
  });

  it('hands each retrieval\'s new candidates to onCandidates with their offset in candidates', async () => {
    const p = new PrecisionPipeline({ retriever: both, crossEncoder: cross, topK: 3, threshold: 1, fallback: 'keyword' });
    const seen: { ids: string[]; offset: number; mode: string; role: string }[] = [];
    const partial: number[] = [];
    const d = await p.search(`error ${DEMO_ERROR_CODE}`, {
      onCandidates: (hits, info) => seen.push({ ids: hits.map((h) => h.id), offset: info.offset, mode: info.mode, role: info.role }),
      onPartial: (pr) => partial.push(...pr.indices),
    });
    assert.deepEqual(seen.map((s) => [s.mode, s.role]), [['dense', 'primary'], ['keyword', 'fallback']]);
    assert.equal(seen[1].offset, seen[0].ids.length);
    assert.deepEqual(seen.flatMap((s) => s.ids), d.candidates.map((c) => c.id));
    assert.deepEqual([...partial].sort((a, b) => a - b), d.candidates.map((c) => c.index), 'partial indices are positions in candidates');
  });

  it('rejects bad options with the field, the accepted values and the fix', async () => {
    const p = new PrecisionPipeline({ retriever: both, crossEncoder: cross });
    await assert.rejects(p.search('q', { fallback: 'bm25' as never }), /fallback is "bm25"; expected one of keyword, hybrid, off/);
    await assert.rejects(p.search('q', { ambiguous: { lower: 0.8, upper: 0.2 } }), /ambiguous.lower is 0.8 but ambiguous.upper is 0.2/);
    await assert.rejects(p.search('q', { ambiguous: { lower: 0.1, upper: 2 } }), /ambiguous.upper is 2; expected a probability/);
    await assert.rejects(p.search('q', { threshold: 0.3, ambiguous: { lower: 0.1, upper: 0.5 } }), /threshold and ambiguous were both given/);
    const denseOnly = { name: 'dense-only', modes: ['dense'] as const, retrieve: both.retrieve.bind(both) };
    assert.throws(() => new PrecisionPipeline({ retriever: denseOnly, crossEncoder: cross, mode: 'keyword' }), /mode is "keyword"; retriever "dense-only" supports dense/);
    assert.throws(() => new PrecisionPipeline({ crossEncoder: cross } as never), /needs a retriever/);
  });
});

// Dense retrieval through a real Chroma server (`chroma run` from the npm package): the same candidates in
// the same order as the built-in collection on the same corpus and bi-encoder, the same gate decisions,
// metadata filters passed through, resumable ingest, and a clear error for each way the engine can fail.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChromaClient } from 'chromadb';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { Collection } from '../src/pipeline/collection.js';
import { DEMO_CORPUS } from '../src/pipeline/demo-corpus.js';
import { PrecisionPipeline, type GateDecision } from '../src/pipeline/precision.js';
import { asPipelineSource, ChromaRetriever, fromUrl } from '../src/retrievers/index.js';
import { expectRetrieverError, freePort, once, withHungServer, startChroma, type ChromaServer } from './95.retrievers.engines.js';

const QUERIES = [
  'how do I train a puppy',
  'what is self-attention in transformers',
  'small animals of the weasel family',
  'how to cook tomato sauce',
  'saving money for emergencies',
  'black holes and neutron stars',
  'who built the Eiffel Tower',
];
const K = 5;

function sameDecision(a: GateDecision, b: GateDecision, q: string): void {
  assert.deepEqual(b.candidates.map((c) => c.id), a.candidates.map((c) => c.id), `${q}: same candidates in the same order`);
  assert.equal(b.outcome, a.outcome, `${q}: same outcome`);
  assert.deepEqual(b.kept.map((c) => c.id), a.kept.map((c) => c.id), `${q}: same kept passages`);
  assert.equal(b.prompt, a.prompt, `${q}: same prompt`);
  b.candidates.forEach((c, i) => {
    assert.ok(Math.abs(c.probability - a.candidates[i].probability) < 1e-6, `${q}: candidate ${i} probability`);
    assert.ok(Math.abs(c.retrievalScore! - a.candidates[i].retrievalScore!) < 1e-5, `${q}: candidate ${i} cosine ${c.retrievalScore} vs ${a.candidates[i].retrievalScore}`);
  });
}

describe('chroma retriever (real chroma server)', () => {
  let root: string;
  let chroma: ChromaServer;
  let bi: BiEncoder;
  let cross: CrossEncoder;
  let builtIn: Collection;
  let retriever: ChromaRetriever;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-chroma-test-'));
    [chroma, bi, cross] = await Promise.all([
      startChroma(),
      ensureGenerated('tiny-bi', { root: join(root, 'models') }).then((d) => BiEncoder.load(d)),
      ensureGenerated('tiny-cross', { root: join(root, 'models') }).then((d) => CrossEncoder.load(d)),
    ]);
    builtIn = Collection.create(bi);
    await builtIn.add([...DEMO_CORPUS]);
    const loader = await ChromaRetriever.openForIngest(chroma.url('demo'), bi);
    const r = await loader.ingest(once([...DEMO_CORPUS]));
    assert.deepEqual(r, { added: DEMO_CORPUS.length, skipped: 0 });
    retriever = await ChromaRetriever.open(chroma.url('demo'), bi);
  });
  after(async () => {
    await cross?.close();
    await bi?.close();
    await chroma?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('returns the built-in collection\'s candidates in the same order, with the same cosine', async () => {
    for (const q of QUERIES) {
      const want = await builtIn.search(q, K);
      const got = await retriever.retrieve(q, { k: K });
      assert.deepEqual(got.map((c) => c.id), want.map((h) => h.id), q);
      got.forEach((c, i) => {
        assert.equal(c.text, want[i].text);
        assert.deepEqual(c.metadata, want[i].metadata);
        assert.ok(Math.abs(c.score - want[i].score) < 1e-5, `${q}[${i}]: ${c.score} vs ${want[i].score}`);
        assert.deepEqual(c.sources?.dense?.rank, i + 1);
      });
    }
  });

  it('makes the same gate decisions as the built-in collection (acceptance)', async () => {
    // A threshold between the queries' best probabilities, so both outcomes occur and both must match.
    const probe = new PrecisionPipeline({ collection: builtIn, crossEncoder: cross, topK: K, threshold: 0 });
    const best = [];
    for (const q of QUERIES) best.push((await probe.search(q)).kept[0].probability);
    const sorted = [...best].sort((a, b) => a - b);
    const threshold = (sorted[2] + sorted[3]) / 2;
    // Chroma serves dense retrieval only, so the built-in collection runs without its keyword fallback: the same path.
    const local = new PrecisionPipeline({ collection: builtIn, crossEncoder: cross, topK: K, threshold, fallback: 'off' });
    const remote = new PrecisionPipeline({ collection: asPipelineSource(retriever), crossEncoder: cross, topK: K, threshold, fallback: 'off' });
    const outcomes = new Set<string>();
    for (const q of QUERIES) {
      const a = await local.search(q);
      const b = await remote.search(q);
      sameDecision(a, b, q);
      outcomes.add(a.outcome);
    }
    assert.deepEqual([...outcomes].sort(), ['answer', 'no_relevant'], 'the threshold splits the queries, so both outcomes were compared');
  });

  it('passes metadata filters through as Chroma where clauses', async () => {
    const q = 'animals';
    const all = await builtIn.search(q, builtIn.size);
    for (const topic of ['dogs', 'cooking']) {
      const want = all.filter((h) => h.metadata?.topic === topic).slice(0, 3).map((h) => h.id);
      const got = await retriever.retrieve(q, { k: 3, filter: { topic } });
      assert.deepEqual(got.map((c) => c.id), want, topic);
    }
    const op = await retriever.retrieve(q, { k: 50, filter: { topic: { $in: ['finance', 'misc'] } } });
    assert.deepEqual(op.map((c) => c.id).sort(), DEMO_CORPUS.filter((d) => ['finance', 'misc'].includes(String(d.metadata?.topic))).map((d) => d.id).sort());
  });

  it('ingest resumes: ids already present are skipped, new ones added, nested metadata round-trips', async () => {
    const loader = await ChromaRetriever.openForIngest(chroma.url('resume'), bi);
    const half = DEMO_CORPUS.slice(0, 7);
    assert.deepEqual(await loader.ingest(once([...half])), { added: 7, skipped: 0 });
    const extra = { id: 'nested-1', text: 'A document with nested metadata about dogs and walks.', metadata: { topic: 'dogs', tags: ['a', 'b'], src: { page: 3 } } };
    const progress: [number, number][] = [];
    const r = await loader.ingest(
      (async function* () {
        yield DEMO_CORPUS.slice(0, 10);
        yield [...DEMO_CORPUS.slice(10), extra];
      })(),
      { onProgress: (a, s) => progress.push([a, s]) },
    );
    assert.deepEqual(r, { added: DEMO_CORPUS.length - 7 + 1, skipped: 7 });
    assert.deepEqual(progress, [[3, 7], [DEMO_CORPUS.length - 7 + 1, 7]]);
    const back = await ChromaRetriever.open(chroma.url('resume'), bi);
    assert.equal((await back.check()).count, DEMO_CORPUS.length + 1);
    const hit = (await back.retrieve(extra.text, { k: 1 }))[0];
    assert.equal(hit.id, 'nested-1');
    assert.deepEqual(hit.metadata, extra.metadata);
    const filtered = await back.retrieve('dogs', { k: 50, filter: { topic: 'dogs' } });
    assert.ok(filtered.some((c) => c.id === 'nested-1'), 'scalar fields of nested metadata stay filterable');
  });

  it('says which part failed: engine down, wrong collection, dimension mismatch, timeout', async () => {
    const expectKind = expectRetrieverError;
    const dead = await freePort();
    await expectKind(fromUrl(`chroma://127.0.0.1:${dead}/demo`, { biEncoder: bi }), 'unreachable', new RegExp(`127\\.0\\.0\\.1:${dead} is not reachable.*chroma run`));
    await expectKind(fromUrl(chroma.url('no-such-collection'), { biEncoder: bi }), 'not_found', /"no-such-collection" does not exist.*crossgate ingest --to/);

    // A collection someone else filled with 3-dimensional vectors; the tiny bi-encoder gives 32.
    const client = new ChromaClient({ host: '127.0.0.1', port: chroma.port });
    const ef = { generate: async (): Promise<number[][]> => [] };
    const foreign = await client.createCollection({ name: 'foreign3', embeddingFunction: ef, configuration: { hnsw: { space: 'cosine' } } });
    await foreign.add({ ids: ['x'], embeddings: [[1, 0, 0]], documents: ['x'] });
    await expectKind(fromUrl(chroma.url('foreign3'), { biEncoder: bi }), 'dimension', /holds 3-dimensional vectors.*gives 32/);
    await expectKind(ChromaRetriever.openForIngest(chroma.url('foreign3'), bi), 'dimension', /holds 3-dimensional vectors/);

    // An engine that accepts the connection and never answers.
    await withHungServer(async (port) => {
      await expectKind(fromUrl(`chroma://127.0.0.1:${port}/demo?timeout_ms=300`, { biEncoder: bi }), 'timeout', /took longer than timeout_ms=300/);
    });
    await expectKind(fromUrl('chroma://127.0.0.1:8000/'), 'invalid', /names no collection/);
    await expectKind(fromUrl('chroma://127.0.0.1:8000/kb', { biEncoder: bi }), 'invalid', /collection is "kb"; Chroma takes 3-512 characters/);
    await expectKind(fromUrl('chroma://127.0.0.1:8000/demo?timeout_ms=0', { biEncoder: bi }), 'invalid', /timeout_ms is "0"/);
    await expectKind(fromUrl('redis://127.0.0.1/x'), 'invalid', /scheme "redis:" is not supported/);
    await expectKind(retriever.retrieve('x', { k: 3, mode: 'keyword' }), 'invalid', /supports dense/);
  });
});
